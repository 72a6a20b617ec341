"""Fixtures for the controller: the CRD installed on the test's control plane, a JSON client,
SpaceCasts and Secrets to create, and a controller running in-process (its own threads)
against the test's namespace."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from controller import api, crd
from controller.kube import JSON, Kube, KubeError
from controller.reconcile import cast_path
from controller.run import Controller
from controller.settings import ControllerSettings
from devcluster import binaries
from devcluster.client import api_client
from devcluster.cluster import ControlPlane
from spacecast.session.local import parse_metrics
from tests.simulator.conftest import make_sim
from tests.wait import wait_for

__all__ = ["make_sim"]  # the real node's casts (test_real_node.py) need the simulator

CRD_NAME = f"{api.PLURAL}.{api.GROUP}"


def install_crd(kube: Kube) -> None:
    """The CRD as generated, installed (or replaced) and Established."""
    manifest = yaml.safe_load(crd.render())
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    try:
        current = kube.request("GET", f"{path}/{CRD_NAME}")
        manifest["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        kube.request("PUT", f"{path}/{CRD_NAME}", body=manifest)
    except KubeError as exc:
        if exc.status != 404:
            raise
        kube.request("POST", path, body=manifest)

    def established() -> bool:
        conditions = (
            kube.request("GET", f"{path}/{CRD_NAME}").get("status", {}).get("conditions") or []
        )
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_for("the CRD established", established, 30)
    # Discovery lags Established a little: wait until the resource answers.
    wait_for("the SpaceCast API served", lambda: _served(kube), 30)


def _served(kube: Kube) -> bool:
    try:
        kube.request("GET", f"/apis/{api.GROUP}/{api.VERSION}/{api.PLURAL}")
        return True
    except KubeError:
        return False


@pytest.fixture
def kube(control_plane: ControlPlane, k8s_api: client.ApiClient) -> Kube:
    k = Kube(k8s_api, user_agent="spacecast-tests")
    install_crd(k)
    return k


def make_secret(kube: Kube, namespace: str, name: str, data: dict[str, str]) -> JSON:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    return kube.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body=body)


def cast_manifest(name: str, **spec: Any) -> JSON:
    spec = {
        "space": "1AudioSpace01",
        "destinations": [{"secretRef": {"name": "ingest", "key": "url"}}],
        **spec,
    }
    return {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def make_cast(kube: Kube, namespace: str, name: str, **spec: Any) -> JSON:
    return kube.request("POST", cast_path(namespace), body=cast_manifest(name, **spec))


def get_cast(kube: Kube, namespace: str, name: str) -> JSON:
    return kube.request("GET", cast_path(namespace, name))


def pods_of(kube: Kube, namespace: str, cast: str) -> list[JSON]:
    pods = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    return [
        p for p in pods
        if any(r.get("name") == cast for r in p["metadata"].get("ownerReferences") or [])
    ]  # fmt: skip


def kubectl(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl against the test's cluster; its cache (HOME/.kube) goes in the cluster's own
    directory, never in the working tree."""
    env = {"KUBECONFIG": str(cp.kubeconfig), "HOME": str(cp.workdir), "PATH": "/usr/bin:/bin"}
    binary = str(binaries.locate().path("kubectl"))
    return subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=60)


StartController = Callable[..., Controller]


@pytest.fixture
def controller(control_plane: ControlPlane, k8s_namespace: str) -> Iterator[StartController]:
    """Start controllers watching the test's namespace; all are stopped after the test."""
    running: list[tuple[Controller, client.ApiClient]] = []

    def start(**overrides: Any) -> Controller:
        settings = ControllerSettings(**{
            "namespace": k8s_namespace, "metrics_port": 0, "metrics_bind": "127.0.0.1",
            "session_image": "spacecast/session:test", **overrides,
        })  # fmt: skip
        manager = api_client(control_plane.kubeconfig)
        k8s = manager.__enter__()
        c = Controller(Kube(k8s), settings)
        c.serve()
        c.start()
        running.append((c, k8s))
        wait_for("the controller's caches", c.synced, 30)
        return c

    yield start
    for c, k8s in running:
        c.shutdown()
        k8s.close()


def scrape(c: Controller) -> dict[str, float]:
    """What Prometheus reads from this controller's /metrics."""
    assert c.server is not None
    port = c.server.server_address[1]
    return parse_metrics(httpx.get(f"http://127.0.0.1:{port}/metrics").text)


def phase_of(kube: Kube, namespace: str, name: str) -> str | None:
    return (get_cast(kube, namespace, name).get("status") or {}).get("phase")


def wait_phase(kube: Kube, namespace: str, name: str, phase: str, within: float = 30) -> JSON:
    wait_for(f"{name} {phase}", lambda: phase_of(kube, namespace, name) == phase, within)
    return get_cast(kube, namespace, name)


def finish_pod(kube: Kube, pod: JSON, code: int, message: str = "", reason: str = "") -> None:
    """What the kubelet reports when the session exits: the pod Failed or Succeeded with the
    container's exit code and termination message."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "phase": "Succeeded" if code == 0 else "Failed",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{
            "name": "session", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"terminated": {
                "exitCode": code, "reason": reason or ("Completed" if code == 0 else "Error"),
                "message": message, "finishedAt": now, "startedAt": now,
            }},
        }],
    }  # fmt: skip
    meta = pod["metadata"]
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
        body={"status": status},
        content_type="application/merge-patch+json",
    )
