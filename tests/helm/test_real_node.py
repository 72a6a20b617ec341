"""The chart on the real node (issue 14's last part): `helm install` with the images `make images`
built, then `helm test`. Everything runs for real on the node and its Service network: the
chart's controller (its image, its RBAC, the `kubernetes` Service), the in-cluster simulator and
its ingest by their Service's name, a session pod of the session image, and the chart's test
hook (the cluster's kubectl, under an account that may only read SpaceCasts) waiting for the
cast to go Live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient

from controller.kube import Kube
from devcluster.cluster import ClusterConfig, ControlPlane
from tests.conftest import image_archive, image_name
from tests.controller.conftest import get_cast, kubectl
from tests.helm.test_chart import CHART, helm

pytestmark = [pytest.mark.real_node, pytest.mark.slow]
RELEASE = "sc"
TIMEOUT = "300s"


# Its own cluster, gone with the module: one node per machine may have a Service network.
MODULE_CLUSTER = ClusterConfig.with_real_node(services=True)


@pytest.fixture
def control_plane(module_control_plane: ControlPlane) -> ControlPlane:
    return module_control_plane


@pytest.fixture
def release(control_plane: ControlPlane, k8s_namespace: str) -> Iterator[list[str]]:
    """The chart installed with the images of this tree, and everything its pods pull present
    on the node; uninstalled after."""
    node = control_plane.node
    assert node is not None, "mark the test real_node"
    for name in ("controller", "simulator", "session"):
        node.import_image(image_archive(name))
    repository, tag = image_name("controller").rsplit(":", 1)
    where = ["--namespace", k8s_namespace, "--kubeconfig", str(control_plane.kubeconfig)]
    values = ["--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
              "--set", "image.pullPolicy=Never", "--set", f"session.image={image_name('session')}",
              "--set", "simulator.enabled=true", "--set", "simulator.pullPolicy=Never",
              "--set", f"simulator.image={image_name('simulator')}",
              "--set", f"tests.image={node.kubectl_image}"]  # fmt: skip
    helm("install", RELEASE, str(CHART), *where, *values, "--wait", f"--timeout={TIMEOUT}",
         timeout=330)  # fmt: skip
    try:
        yield where
    finally:
        helm("uninstall", RELEASE, *where, "--wait", "--timeout=60s", check=False, timeout=90)


def test_helm_test_passes_on_the_real_node(
    control_plane: ControlPlane, k8s_api: ApiClient, k8s_namespace: str, release: list[str]
) -> None:
    """`helm test`: its throwaway SpaceCast of the in-cluster simulator's Space reaches Live,
    as its hook pod's `kubectl wait` sees through the `kubernetes` Service."""
    done = helm("test", RELEASE, *release, f"--timeout={TIMEOUT}", check=False, timeout=330)
    if done.returncode != 0:
        pods = kubectl(control_plane, "get", "pods,spacecasts", "-n", k8s_namespace, "-o", "wide")
        logs = kubectl(control_plane, "logs", "-n", k8s_namespace, f"deploy/{RELEASE}-spacecast")
        pytest.fail(f"helm test: {done.stdout}{done.stderr}\n{pods.stdout}\n{logs.stdout[-3000:]}")
    kube = Kube(k8s_api, user_agent="spacecast-tests")
    cast = get_cast(kube, k8s_namespace, f"{RELEASE}-spacecast-test")
    assert cast["status"]["phase"] == "Live", cast["status"]
    hook = kube.request("GET", f"/api/v1/namespaces/{k8s_namespace}/pods/{RELEASE}-spacecast-test")
    assert hook["status"]["phase"] == "Succeeded", hook["status"]
