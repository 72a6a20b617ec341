"""The session's live facts as Events (spacecast/session/report.py), posted to the real
apiserver with the shipped Events-only account."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.kube import Kube, KubeError
from devcluster.cluster import ControlPlane
from spacecast.contract import REPORTER, Facts
from spacecast.session.report import Reporter, Target
from tests.reporting import kube_as, session_account
from tests.wait import until

pytestmark = pytest.mark.slow


@pytest.fixture
def kube(k8s_api: client.ApiClient) -> Kube:
    return Kube(k8s_api, user_agent="spacecast-tests")


def target(cp: ControlPlane, namespace: str, token: Path) -> Target:
    return Target(cp.server, str(token), str(cp.pki.serving_ca), namespace, "talk", "0000-1111",
                  "talk-0")  # fmt: skip


@contextlib.asynccontextmanager
async def running(
    cp: ControlPlane, namespace: str, token: Path, min_interval_s: float
) -> AsyncIterator[Reporter]:
    """A reporter posting with the account's token; stopped whatever the test does."""
    reporter = Reporter(target(cp, namespace, token), min_interval_s=min_interval_s)
    reporter.start()
    try:
        yield reporter
    finally:
        await reporter.stop()


def reports(kube: Kube, namespace: str) -> list[dict[str, Any]]:
    items = kube.request("GET", f"/api/v1/namespaces/{namespace}/events",
                         {"fieldSelector": f"reportingComponent={REPORTER}"})["items"]  # fmt: skip
    return sorted(items, key=lambda e: int(e["metadata"]["annotations"]["spacecast.dev/seq"]))


async def test_facts_become_events_about_the_cast_and_the_account_reads_nothing(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, tmp_path: Path
) -> None:
    token = session_account(kube, k8s_namespace, tmp_path)
    async with running(control_plane, k8s_namespace, token, 0.1) as reporter:
        for facts in [Facts("browser", False), Facts("rescue", False), Facts("rescue", True),
                      Facts("rescue", False)]:  # fmt: skip
            before = reporter.posted
            reporter.update(facts)
            await until(lambda: reporter.posted > before, 15)  # noqa: B023 - awaited here
    events = reports(kube, k8s_namespace)
    assert [(e["type"], e["reason"]) for e in events] == [
        ("Normal", "Casting"), ("Normal", "Rescued"), ("Warning", "Silent"), ("Normal", "Audible")
    ]  # fmt: skip
    first = events[0]
    assert first["involvedObject"] == {"apiVersion": "spacecast.dev/v1alpha1",
                                       "kind": "SpaceCast", "namespace": k8s_namespace,
                                       "name": "talk", "uid": "0000-1111"}  # fmt: skip
    assert (first["reportingInstance"], first["related"]["name"]) == ("talk-0", "talk-0")
    assert Facts.read(events[-1]["metadata"]["annotations"]) == (4, Facts("rescue", False))
    assert token.read_text() not in str(events)
    # The account may create Events and nothing else: no Secrets, no pods, no casts.
    as_session = kube_as(control_plane, token)
    for path in ("secrets", "pods", "events"):
        with pytest.raises(KubeError) as refused:
            as_session.request("GET", f"/api/v1/namespaces/{k8s_namespace}/{path}")
        assert refused.value.status == 403


async def test_changes_within_the_interval_post_only_the_latest(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, tmp_path: Path
) -> None:
    """A speaker pausing and resuming fast makes no flood: one Event per interval at most."""
    token = session_account(kube, k8s_namespace, tmp_path)
    async with running(control_plane, k8s_namespace, token, 1.5) as reporter:
        reporter.update(Facts("browser", False))
        await until(lambda: reporter.posted == 1, 15)
        for silent in (True, False, True, False, True):
            reporter.update(Facts("browser", silent))
            await asyncio.sleep(0.1)  # the reporter's turn: it would post each one
        await until(lambda: reporter.posted == 2, 15)
    assert [e["reason"] for e in reports(kube, k8s_namespace)] == ["Casting", "Silent"]


async def test_the_api_gone_mid_way_delays_the_report_and_loses_nothing(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, tmp_path: Path
) -> None:
    token = session_account(kube, k8s_namespace, tmp_path)
    async with running(control_plane, k8s_namespace, token, 0.1) as reporter:
        reporter.update(Facts("browser", False))
        await until(lambda: reporter.posted == 1, 15)
        await asyncio.to_thread(control_plane.stop_apiserver)
        reporter.update(Facts("rescue", False))
        await until(lambda: reporter.failed >= 2, 60)  # it tried, and tries again
        reporter.update(Facts("rescue", True))  # changed again while the first is retried
        await asyncio.to_thread(control_plane.start_apiserver)
        await until(lambda: reporter.posted == 3, 60)
    events = reports(kube, k8s_namespace)
    assert [e["reason"] for e in events] == ["Casting", "Rescued", "Silent"]
    assert Facts.read(events[-1]["metadata"]["annotations"]) == (3, Facts("rescue", True))
