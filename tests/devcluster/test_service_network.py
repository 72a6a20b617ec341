"""The real node's Service network (devcluster/service_network.py): pods reach Services by name
and virtual IP, an endpoint on the same bridge and the `kubernetes` Service alike; the host routes
what comes off the bridge back onto it or to itself, and nowhere else (proved by inspection,
never by sending traffic off the machine); and one node per machine may have one."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from typing import Any

import pytest
from kubernetes import client

from controller.kube import JSON, Kube
from devcluster import node_host, service_network
from devcluster.cluster import ClusterConfig, ControlPlane
from devcluster.node import NodeUnavailable
from tests.devcluster.test_node import LOCKED_DOWN, ip_json, netns_of, run_pod
from tests.wait import wait_for

pytestmark = [pytest.mark.real_node, pytest.mark.slow]


# Its own cluster, gone with the module: one node per machine may have a Service network.
MODULE_CLUSTER = ClusterConfig.with_real_node(services=True)


@pytest.fixture
def control_plane(module_control_plane: ControlPlane) -> ControlPlane:
    return module_control_plane


def kubectl_pod(image: str, name: str, args: list[str], labels: dict[str, str]) -> JSON:
    """A pod of the node's kubectl image, with its ServiceAccount's token (in-cluster config)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "kubectl", "image": image, "imagePullPolicy": "Never",
                            "command": ["kubectl", *args], "securityContext": LOCKED_DOWN}],
            "terminationGracePeriodSeconds": 1,
        },
    }  # fmt: skip


def finished(kube: Kube, namespace: str, name: str) -> JSON:
    def done() -> JSON | None:
        pod = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    return wait_for(f"pod {name} to finish", done, 60)  # type: ignore[no-any-return]


def test_pods_reach_services_by_name_on_the_bridge_and_the_apiserver(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    """A pod asks for the apiserver's version through `kubectl proxy` in another pod, by the
    proxy's Service name: CoreDNS names it, kube-proxy sends its virtual IP to the proxy's pod
    on the same bridge, and the proxy reaches the apiserver through the `kubernetes` Service."""
    node = control_plane.node
    assert node is not None
    kube = Kube(k8s_api, user_agent="spacecast-tests")
    pods = f"/api/v1/namespaces/{k8s_namespace}/pods"
    proxy = kubectl_pod(node.kubectl_image, "proxy", ["proxy", "--address=0.0.0.0",
                        "--port=8001", "--accept-hosts=.*"], {"app": "proxy"})  # fmt: skip
    proxy["spec"]["containers"][0]["readinessProbe"] = {
        "tcpSocket": {"port": 8001}, "periodSeconds": 1}  # fmt: skip
    kube.request("POST", pods, body=proxy)
    service = {"metadata": {"name": "proxy"}, "spec": {
        "selector": {"app": "proxy"}, "ports": [{"port": 80, "targetPort": 8001}]}}  # fmt: skip
    kube.request("POST", f"/api/v1/namespaces/{k8s_namespace}/services", body=service)
    slices = f"/apis/discovery.k8s.io/v1/namespaces/{k8s_namespace}/endpointslices"

    def ready_endpoint() -> bool:
        query = {"labelSelector": "kubernetes.io/service-name=proxy"}
        found = kube.request("GET", slices, query=query)
        return any(e.get("conditions", {}).get("ready") for s in found["items"]
                   for e in s.get("endpoints") or [])  # fmt: skip

    wait_for("the proxy's endpoint ready", ready_endpoint, 60)
    # kube-proxy programs it a moment later (until then its virtual IP is unreachable).
    wait_for("kube-proxy's rule for it", lambda: f'"{k8s_namespace}/proxy" -m tcp -j DNAT'
             in nat_rules(), 30)  # fmt: skip
    asker = kubectl_pod(node.kubectl_image, "asker", ["get", "--raw", "/version",
                        "--server=http://proxy", "--request-timeout=20s"], {})  # fmt: skip
    kube.request("POST", pods, body=asker)
    pod = finished(kube, k8s_namespace, "asker")
    log = client.CoreV1Api(k8s_api).read_namespaced_pod_log("asker", k8s_namespace)
    assert pod["status"]["phase"] == "Succeeded", log
    assert json.loads(log)["gitVersion"].startswith("v1."), log


def nat_rules() -> str:
    return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def route_get(*args: str) -> dict[str, Any] | None:
    """The host's routing decision (`ip route get`: a lookup, nothing is sent), or None when
    there is no route."""
    argv = [node_host.ip_command() or "ip", "-j", "route", "get", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return json.loads(done.stdout)[0] if done.returncode == 0 else None


def test_the_host_routes_the_bridge_only_back_onto_it(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    """By inspection: the pod's routes are its subnet and the Services' range through the host;
    the host routes a packet from the bridge to another pod or to itself, and to nothing else
    (this machine's own default route included); host-wide forwarding is as it was; and every
    address NAT rewrites to is a pod's or the bridge's own."""
    node = control_plane.node
    assert node is not None
    layout = node.layout
    pod = run_pod(k8s_api, k8s_namespace, "isolated")
    routes = ip_json("-4", "route", "show", "table", "main", netns=netns_of(pod))
    services = {"dst": str(service_network.service_range()), "gateway": layout.gateway}
    assert sorted((r["dst"], r.get("gateway")) for r in routes) == sorted(
        [(str(layout.subnet), None), (services["dst"], services["gateway"])]), routes  # fmt: skip
    source, neighbour = pod["status"]["podIP"], str(layout.subnet[200])
    onto_bridge = route_get(neighbour, "from", source, "iif", layout.bridge)
    assert onto_bridge is not None and onto_bridge["dev"] == layout.bridge, onto_bridge
    to_host = route_get(layout.gateway, "from", source, "iif", layout.bridge)
    assert to_host is not None and to_host["type"] == "local", to_host
    for beyond in ("192.0.2.1", "8.8.8.8", str(service_network.service_range()[7])):
        assert route_get(beyond, "from", source, "iif", layout.bridge) is None, beyond
    assert node_host.IP_FORWARD.read_text() == node.changes.ip_forward_before
    nat = nat_rules()
    targets = [line.split("--to-destination ")[1].rsplit(":", 1)[0]
               for line in nat.splitlines() if "--to-destination" in line]  # fmt: skip
    assert targets, "no Service is translated at all"
    for target in targets:
        address = ipaddress.ip_address(target)
        assert address in layout.subnet, f"NAT sends {target} beyond the bridge"


def test_a_second_node_with_a_service_network_is_refused(control_plane: ControlPlane) -> None:
    """kube-proxy owns the host's KUBE-* chains: a second node's would fight the first's, and
    its stop would remove them. It is refused, and leaves the first's chains alone."""
    assert control_plane.node is not None
    chains = nat_rules().count("KUBE-SVC")
    second = ControlPlane(ClusterConfig.with_real_node(services=True))
    try:
        with pytest.raises(NodeUnavailable, match="another real node on this machine runs the"):
            second.start()
    finally:
        second.stop()  # had it started
    assert chains and nat_rules().count("KUBE-SVC") == chains
