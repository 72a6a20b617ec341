"""A SpaceCast's life on a real control plane: the scheduler places its pod on a kwok node,
kwok makes it Running and Ready, and the test plays the kubelet's part at the end by writing
the pod's exit (code and termination message) as the kubelet would."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from controller.kube import Kube, KubeError
from controller.reconcile import cast_path
from devcluster.cluster import ControlPlane
from spacecast.contract import Facts, Summary
from spacecast.session.report import Target, event
from tests.reporting import kube_as, session_account
from tests.wait import wait_for

from .conftest import (
    StartController,
    finish_pod,
    get_cast,
    kubectl,
    make_cast,
    make_secret,
    phase_of,
    pods_of,
    scrape,
    wait_phase,
)

pytestmark = [pytest.mark.slow, pytest.mark.control_plane(full=True)]
INGEST = {"url": "rtmp://ingest.example/app/SECRETKEY"}


def one_pod(kube: Kube, ns: str, cast: str, name: str) -> dict:  # type: ignore[type-arg]
    def found() -> dict | None:  # type: ignore[type-arg]
        live = [p for p in pods_of(kube, ns, cast) if p["metadata"]["name"] == name]
        return live[0] if live else None

    return wait_for(f"pod {name}", found, 30)  # type: ignore[no-any-return]


def events(kube: Kube, ns: str) -> list[str]:
    return [e["reason"] for e in kube.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]]


def test_live_then_transient_restarts_then_failed(
    kube: Kube, k8s_namespace: str, controller: StartController, control_plane: ControlPlane
) -> None:
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    c = controller(restart_backoff_seconds=0.5)
    make_cast(kube, ns, "talk", limits={"maxRestarts": 1})
    cast = wait_phase(kube, ns, "talk", "Live")
    assert cast["status"]["podName"] == "talk-0" and cast["status"]["observedGeneration"] == 1
    waited = kubectl(control_plane, "wait", "--for=condition=Ready", "scast/talk", "-n", ns,
                     "--timeout=10s")  # fmt: skip
    assert waited.returncode == 0, waited.stderr

    lost = Summary("1AudioSpace01", "failed", 31, message="every destination is down").line()
    finish_pod(kube, one_pod(kube, ns, "talk", "talk-0"), 31, lost)
    one_pod(kube, ns, "talk", "talk-1")
    cast = wait_phase(kube, ns, "talk", "Live")
    assert cast["status"]["restarts"] == 1 and cast["status"]["lastExitCode"] == 31

    finish_pod(kube, one_pod(kube, ns, "talk", "talk-1"), 33)
    cast = wait_phase(kube, ns, "talk", "Failed")
    assert cast["status"]["lastExitCode"] == 33 and "after 1 restarts" in cast["status"]["message"]
    assert {p["metadata"]["name"] for p in pods_of(kube, ns, "talk")} <= {"talk-0", "talk-1"}
    assert {"PodCreated", "Live", "Restarting", "Failed"} <= set(events(kube, ns))
    restarts = f"spacecast_controller_session_restarts_total{{namespace={ns},spacecast=talk}}"
    assert scrape(c)[restarts] == 1  # once, though the status was written more than once

    kube.request("DELETE", cast_path(ns, "talk"))
    wait_for("the deleted cast's series gone", lambda: restarts not in scrape(c), 10)


def test_a_live_sessions_reports_reach_its_status(
    kube: Kube, k8s_namespace: str, controller: StartController, control_plane: ControlPlane,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The session's Events (spacecast/session/report.py), posted with the shipped account's
    token, become the audio source and the Silent condition; reports of another pod, or of an
    earlier cast of the same name, do not, whatever their sequence."""
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    controller()
    uid = make_cast(kube, ns, "talk")["metadata"]["uid"]
    wait_phase(kube, ns, "talk", "Live")
    session = kube_as(control_plane, session_account(kube, ns, tmp_path))

    def post(pod: str, cast_uid: str, seq: int, facts: Facts) -> None:
        where = Target("", "", "", ns, "talk", cast_uid, pod)
        session.request("POST", f"/api/v1/namespaces/{ns}/events",
                        body=event(where, pod, seq, None, facts))  # fmt: skip

    def status() -> tuple[str | None, str | None]:
        s = get_cast(kube, ns, "talk")["status"]
        silent = [c["status"] for c in s["conditions"] if c["type"] == "Silent"]
        return s.get("audioSource"), silent[0] if silent else None

    post("talk-7", uid, 99, Facts("rescue", True))  # not its pod
    post("talk-0", "an-earlier-talk", 98, Facts("rescue", True))  # not this cast
    post("talk-0", uid, 1, Facts("browser", False))
    wait_for("the report in the status", lambda: status() == ("browser", "False"), 30)
    post("talk-0", uid, 2, Facts("rescue", True))
    wait_for("rescued and silent", lambda: status() == ("rescue", "True"), 30)
    shown = kubectl(control_plane, "get", "scast", "talk", "-n", ns).stdout
    assert shown.splitlines()[1].split()[3] == "rescue", shown


@pytest.mark.parametrize(("code", "phase"), [(0, "Completed"), (30, "Failed")])
def test_success_and_permanent_exits_are_final(
    kube: Kube, k8s_namespace: str, controller: StartController, code: int, phase: str
) -> None:
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    controller(restart_backoff_seconds=0.5)
    make_cast(kube, ns, "talk")
    wait_phase(kube, ns, "talk", "Live")
    summary = Summary("1AudioSpace01", "space_ended" if code == 0 else "failed", code,
                      audio_source="rescue").line()  # fmt: skip
    finish_pod(kube, one_pod(kube, ns, "talk", "talk-0"), code, summary)
    cast = wait_phase(kube, ns, "talk", phase)
    assert cast["status"]["lastExitCode"] == code and cast["status"]["audioSource"] == "rescue"
    assert [p["metadata"]["name"] for p in pods_of(kube, ns, "talk")] == ["talk-0"]


def test_a_late_secret_starts_the_cast(
    kube: Kube, k8s_namespace: str, controller: StartController
) -> None:
    ns = k8s_namespace
    controller()
    make_cast(kube, ns, "talk")
    cast = wait_phase(kube, ns, "talk", "Pending")
    wait_for(
        "the reason", lambda: "ingest/url" in get_cast(kube, ns, "talk")["status"]["message"], 10
    )
    assert pods_of(kube, ns, "talk") == []
    assert "SECRETKEY" not in str(cast)
    make_secret(kube, ns, "ingest", INGEST)
    wait_phase(kube, ns, "talk", "Live")


def test_pod_deleted_is_recreated_and_cast_deleted_takes_its_pod(
    kube: Kube, k8s_namespace: str, controller: StartController
) -> None:
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    c = controller()
    make_cast(kube, ns, "talk")
    wait_phase(kube, ns, "talk", "Live")
    kube.request("DELETE", f"/api/v1/namespaces/{ns}/pods/talk-0", {"gracePeriodSeconds": 0})
    one_pod(kube, ns, "talk", "talk-1")
    cast = wait_phase(kube, ns, "talk", "Live")
    assert cast["status"]["restarts"] == 1
    restarts = f"spacecast_controller_session_restarts_total{{namespace={ns},spacecast=talk}}"
    assert scrape(c)[restarts] == 1  # a lost pod is a restart too
    kube.request("DELETE", f"/apis/spacecast.dev/v1alpha1/namespaces/{ns}/spacecasts/talk")
    wait_for("the pod garbage-collected", lambda: pods_of(kube, ns, "talk") == [], 60)


def test_suspend_and_resume(kube: Kube, k8s_namespace: str, controller: StartController) -> None:
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    controller()
    make_cast(kube, ns, "talk")
    wait_phase(kube, ns, "talk", "Live")
    path = f"/apis/spacecast.dev/v1alpha1/namespaces/{ns}/spacecasts/talk"
    patch = "application/merge-patch+json"
    kube.request("PATCH", path, body={"spec": {"suspend": True}}, content_type=patch)
    wait_phase(kube, ns, "talk", "Suspended")
    wait_for("the pod gone", lambda: pods_of(kube, ns, "talk") == [], 30)
    kube.request("PATCH", path, body={"spec": {"suspend": False}}, content_type=patch)
    cast = wait_phase(kube, ns, "talk", "Live")
    assert cast["status"]["podName"] == "talk-1" and cast["status"]["restarts"] == 0


def test_capacity_queues_the_rest_oldest_first(
    kube: Kube, k8s_namespace: str, controller: StartController
) -> None:
    """Oldest by creationTimestamp, which has one-second steps: ties go by name, so these
    names sort in the order they are created."""
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    c = controller(max_sessions=2)
    for name in ("cast-1", "cast-2", "cast-3", "cast-4"):
        make_cast(kube, ns, name)
    wait_phase(kube, ns, "cast-1", "Live")
    wait_phase(kube, ns, "cast-2", "Live")
    for name in ("cast-3", "cast-4"):
        wait_phase(kube, ns, name, "Pending")
        message = get_cast(kube, ns, name)["status"]["message"]
        assert "free session slot" in message, message
        assert pods_of(kube, ns, name) == []
    fleet = scrape(c)
    assert fleet["spacecast_controller_waiting_for_capacity"] == 2
    assert fleet["spacecast_controller_active_sessions"] == 2
    assert fleet["spacecast_controller_session_limit"] == 2
    assert fleet["spacecast_controller_casts{phase=Pending}"] == 2
    assert fleet["spacecast_controller_casts{phase=Live}"] == 2
    finish_pod(kube, one_pod(kube, ns, "cast-1", "cast-1-0"), 0)  # a slot frees: the oldest
    wait_phase(kube, ns, "cast-3", "Live")
    assert phase_of(kube, ns, "cast-4") == "Pending"


def test_a_burst_gets_every_pod_before_statuses_and_events(
    kube: Kube, k8s_namespace: str, controller: StartController, control_plane: ControlPlane
) -> None:
    """100 casts wait when the controller starts (a GitOps sync, a controller back after an
    outage): the pods go out first, the first statuses and the Events after them."""
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    names = [f"burst-{i:03d}" for i in range(100)]
    small = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
    for name in names:
        make_cast(kube, ns, name, pod={"resources": small})  # all fit on the one kwok node
    since = control_plane.audit.mark()
    workers = controller().settings.workers
    wait_for("every cast Live", lambda: all(phase_of(kube, ns, n) == "Live" for n in names), 120)
    ours = [e for e in control_plane.audit.events(since)  # in the order they completed
            if e.user_agent.startswith("spacecast-controller") and e.namespace == ns
            and e.verb in ("create", "patch")]  # fmt: skip
    pods = [i for i, e in enumerate(ours) if e.resource == "pods"]
    assert len(pods) == len(names)
    # Once the last new cast is handed out, the other workers turn to statuses while the last
    # pods are still on their way: a few writes each may land first, no more. (Each pass used
    # to write its status right after its pod: about 150 of them came first.)
    early = [e.resource for e in ours[: pods[-1]] if e.resource in ("spacecasts", "events")]
    assert len(early) < 3 * workers, early


class Unreachable(Kube):
    def __init__(self) -> None:
        pass

    def request(self, *args: object, **kwargs: object) -> dict:  # type: ignore[type-arg]
        raise KubeError(0, "ConnectTimeoutError", "the apiserver cannot be reached")


def test_spec_change_replaces_the_pod(
    kube: Kube, k8s_namespace: str, controller: StartController
) -> None:
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    controller(restart_backoff_seconds=0.5)
    make_cast(kube, ns, "talk", limits={"maxRestarts": 0})
    wait_phase(kube, ns, "talk", "Live")
    kube.request("PATCH", f"/apis/spacecast.dev/v1alpha1/namespaces/{ns}/spacecasts/talk",
                 body={"spec": {"video": {"fps": 25}}},
                 content_type="application/merge-patch+json")  # fmt: skip
    pod = one_pod(kube, ns, "talk", "talk-1")
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["SPACECAST_SESSION_FPS"] == "25"
    cast = wait_phase(kube, ns, "talk", "Live")
    assert cast["status"]["restarts"] == 0 and cast["status"]["observedGeneration"] == 2


def test_two_replicas_one_leader_then_failover(
    kube: Kube, k8s_namespace: str, controller: StartController
) -> None:
    ns = k8s_namespace
    make_secret(kube, ns, "ingest", INGEST)
    lease = {"leader_elect": True, "lease_namespace": ns, "lease_seconds": 3,
             "renew_deadline_seconds": 2, "retry_seconds": 0.3}  # fmt: skip
    a, b = controller(**lease), controller(**lease)
    wait_for("a leader", lambda: a.leading() or b.leading(), 10)
    leader, standby = (a, b) if a.leading() else (b, a)
    assert not standby.leading()
    make_cast(kube, ns, "one")
    wait_phase(kube, ns, "one", "Live")
    assert [p["metadata"]["name"] for p in pods_of(kube, ns, "one")] == ["one-0"]

    assert leader.elector is not None and standby.elector is not None
    leader.elector.kube = Unreachable()  # the leader is cut off from the apiserver
    cut_at = time.monotonic()
    wait_for("the standby leading", standby.leading, 10)
    took = time.monotonic() - cut_at
    # It stopped writing at its renew deadline, before the Lease could expire for the other.
    assert not leader.elector.may_write() and not leader.leading()
    assert scrape(standby)["spacecast_controller_leader"] == 1
    assert scrape(leader)["spacecast_controller_leader"] == 0
    assert 2.5 <= took <= 3 + 0.3 + 2, took  # the lease duration plus a retry, and margin
    make_cast(kube, ns, "two")
    wait_phase(kube, ns, "two", "Live")
    lease_obj = kube.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/"
                             "spacecast-controller")  # fmt: skip
    assert lease_obj["spec"]["holderIdentity"] == standby.elector.identity
    assert lease_obj["spec"]["leaseTransitions"] == 1
