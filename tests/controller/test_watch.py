"""The controller's watch on the real apiserver: every way a watch breaks, and nothing lost.

The Reflector is driven on ConfigMaps (any kind behaves the same); the last test runs the
whole controller through an apiserver restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client

from controller.kube import JSON, Kube
from controller.watch import Reflector
from devcluster.cluster import ControlPlane
from tests.wait import wait_for

from .conftest import StartController, make_cast, make_secret, pods_of


class Seen:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []  # (key, "set" | "deleted")
        self.restarts: list[str] = []

    def change(self, key: str, old: JSON | None, new: JSON | None) -> None:
        self.changes.append((key.split("/")[1], "deleted" if new is None else "set"))

    def names(self) -> set[str]:
        return {name for name, _ in self.changes}


def configmap(kube: Kube, ns: str, name: str) -> None:
    kube.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body={"metadata": {"name": name}})


@pytest.fixture
def reflect(k8s_api: client.ApiClient, k8s_namespace: str) -> Iterator[object]:
    running: list[Reflector] = []

    def start(seen: Seen, **kwargs: object) -> tuple[Reflector, threading.Thread]:
        r = Reflector(Kube(k8s_api), f"/api/v1/namespaces/{k8s_namespace}/configmaps",
                      on_change=seen.change, on_restart=seen.restarts.append,
                      **kwargs)  # type: ignore[arg-type]  # fmt: skip
        thread = threading.Thread(target=r.run, daemon=True)
        thread.start()
        running.append(r)
        wait_for("the first list", r.synced.is_set, 10)
        return r, thread

    yield start
    for r in running:
        r.stop.set()


@pytest.mark.control_plane(watch_cache=False)
def test_a_compacted_version_relists_and_loses_nothing(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str, reflect: object
) -> None:
    """The watch was away while etcd compacted its history: 410, relist, and the object
    created and the one deleted meanwhile are both reported."""
    kube, seen = Kube(k8s_api), Seen()
    configmap(kube, k8s_namespace, "before")
    r, thread = reflect(seen, timeout_s=1)  # type: ignore[operator]
    wait_for("before seen", lambda: "before" in seen.names(), 10)
    r.stop.set()  # away: its watch ends within the 1-2 s server timeout
    thread.join(10)
    stale = r.version
    configmap(kube, k8s_namespace, "during")
    kube.request("DELETE", f"/api/v1/namespaces/{k8s_namespace}/configmaps/before")
    control_plane.compact_etcd()
    r.stop.clear()  # back, resuming from the version it had: compacted away
    threading.Thread(target=r.run, daemon=True).start()
    wait_for("the 410 and the relist", lambda: "expired" in seen.restarts, 10)
    wait_for("during seen", lambda: ("during", "set") in seen.changes, 10)
    wait_for("before's deletion seen", lambda: ("before", "deleted") in seen.changes, 10)
    assert r.version != stale


def test_a_silent_watch_is_reopened_at_once(
    k8s_api: client.ApiClient, k8s_namespace: str, reflect: object
) -> None:
    """Silence is no failure: a quiet watch (no events, no bookmarks) is reopened each time
    without counting toward the backoff, which would hold its next event back."""
    kube, seen = Kube(k8s_api), Seen()
    r, _ = reflect(seen, inactivity_s=1.0, timeout_s=600)  # type: ignore[operator]
    wait_for("three silences", lambda: seen.restarts.count("inactive") >= 3, 20)
    assert r.failures == 0, seen.restarts
    configmap(kube, k8s_namespace, "after-silence")
    wait_for("an event after the reopen", lambda: "after-silence" in seen.names(), 10)


def test_an_apiserver_restart_is_survived(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, controller: StartController
) -> None:
    make_secret(kube, k8s_namespace, "ingest", {"url": "rtmp://ingest.example/app/k"})
    controller()
    control_plane.restart_apiserver()
    make_cast(kube, k8s_namespace, "after-restart")
    wait_for("its pod", lambda: pods_of(kube, k8s_namespace, "after-restart"), 60)


def test_our_own_write_coming_back_is_no_change() -> None:
    """A write-through, then the watch bringing the same version: one change, not two (each
    change is a reconcile pass); a later version is a change again."""
    seen: list[str | None] = []

    def changed(key: str, old: JSON | None, new: JSON | None) -> None:
        seen.append(new["metadata"]["resourceVersion"] if new else None)

    r = Reflector(None, "/x", on_change=changed)  # type: ignore[arg-type]  # no API: no I/O here
    pod = {"metadata": {"namespace": "n", "name": "p", "resourceVersion": "7"}}
    r.put(pod, created=True)
    r._apply("ADDED", pod)
    r._apply("MODIFIED", {"metadata": pod["metadata"] | {"resourceVersion": "8"}})
    r._apply("DELETED", {"metadata": pod["metadata"] | {"resourceVersion": "9"}})
    assert seen == ["7", "8", None]
