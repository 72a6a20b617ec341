"""The real node (devcluster/node.py): pods really run on it, it is a node the cluster
authenticates and confines, its pods reach nothing beyond this machine (proved by inspection,
never by sending traffic), and stopping it leaves the host as it was."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.kube import JSON, Kube
from devcluster import binaries, node_config, node_host
from devcluster import node as node_mod
from devcluster.cluster import ClusterConfig, ControlPlane
from devcluster.node_config import NODE_NAME, PAUSE_IMAGE
from tests.wait import wait_for

pytestmark = [pytest.mark.real_node, pytest.mark.slow]

LOCKED_DOWN = {
    "runAsNonRoot": True,
    "runAsUser": 65535,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def pause_pod(name: str) -> dict[str, Any]:
    """The smallest pod there is: the node's own pause image, locked down."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "pause", "image": PAUSE_IMAGE,
                            "imagePullPolicy": "Never", "securityContext": LOCKED_DOWN}],
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
        },
    }  # fmt: skip


def run_pod(api: client.ApiClient, namespace: str, name: str) -> JSON:
    kube = Kube(api, user_agent="spacecast-tests")
    path = f"/api/v1/namespaces/{namespace}/pods"
    kube.request("POST", path, body=pause_pod(name))

    def running() -> JSON | None:
        pod = kube.request("GET", f"{path}/{name}")
        return pod if pod["status"].get("phase") == "Running" else None

    return wait_for(f"pod {name} Running", running, 60)  # type: ignore[no-any-return]


def netns_of(pod: JSON) -> str:
    """/proc/<pid>/ns/net of the pod's sandbox: of a process in the pod's cgroup (cgroupfs
    names it pod<uid>)."""
    uid = pod["metadata"]["uid"]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cgroups = (entry / "cgroup").read_text()
            except OSError:
                continue
            if f"pod{uid}" in cgroups:
                return str(entry / "ns" / "net")
    raise AssertionError(f"no process of pod {pod['metadata']['name']} on this machine")


def ip_json(*args: str, netns: str | None = None) -> list[dict[str, Any]]:
    argv = [node_host.ip_command() or "ip", "-j", *args]
    if netns:
        argv = ["nsenter", f"--net={netns}", *argv]
    return list(json.loads(subprocess.run(argv, check=True, capture_output=True).stdout or "[]"))


def test_a_pod_runs_on_the_real_node_with_an_address_of_its_bridge(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    assert control_plane.node is not None
    pod = run_pod(k8s_api, k8s_namespace, "sandbox")
    assert pod["spec"]["nodeName"] == NODE_NAME
    layout = control_plane.node.layout
    assert pod["status"]["podIP"] in [str(h) for h in layout.subnet.hosts()]
    node = Kube(k8s_api).request("GET", f"/api/v1/nodes/{NODE_NAME}")
    runtime = node["status"]["nodeInfo"]["containerRuntimeVersion"]
    assert runtime.startswith("containerd://1."), runtime


def test_the_apiserver_reaches_the_kubelet_with_its_certificate_and_nobody_else_does(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    """Logs go through the apiserver, which the kubelet authenticates by its client
    certificate; without a certificate the kubelet answers 401."""
    assert control_plane.node is not None
    run_pod(k8s_api, k8s_namespace, "logged")
    logs = Kube(k8s_api).request("GET", f"/api/v1/namespaces/{k8s_namespace}/pods/logged/log")
    assert logs == {}  # an empty log (the pause process says nothing); an error would raise
    layout = control_plane.node.layout
    anonymous = subprocess.run(
        ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
         f"https://{layout.gateway}:{layout.kubelet_port}/pods"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert anonymous.stdout == "401"


def test_the_kubelet_may_touch_only_its_own_node(
    control_plane: ControlPlane, k8s_api: client.ApiClient
) -> None:
    """NodeRestriction: the kubelet's identity (system:node:<name>) cannot label another
    node, though it may label its own."""
    kube = Kube(k8s_api)
    kube.request("POST", "/api/v1/nodes", body={"metadata": {"name": "someone-else"}})
    try:
        kubectl = [str(control_plane.bins.path("kubectl")),
                   f"--kubeconfig={control_plane.node_layout.root / 'kubelet.kubeconfig'}"]  # type: ignore[union-attr]  # fmt: skip
        own = subprocess.run([*kubectl, "label", "node", NODE_NAME, "spacecast.dev/x=1"],
                             capture_output=True, text=True, check=False)  # fmt: skip
        other = subprocess.run([*kubectl, "label", "node", "someone-else", "spacecast.dev/x=1"],
                               capture_output=True, text=True, check=False)  # fmt: skip
    finally:
        kube.request("DELETE", "/api/v1/nodes/someone-else")
    assert own.returncode == 0, own.stderr
    assert other.returncode != 0 and "forbidden" in other.stderr.lower(), other.stderr


def test_pods_have_no_route_off_the_machine(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    """By inspection: the pod's only routes are its bridge's subnet; the host forwards as it
    did before the node started, and no NAT rule names the pods' range."""
    node = control_plane.node
    assert node is not None
    pod = run_pod(k8s_api, k8s_namespace, "isolated")
    routes = ip_json("-4", "route", "show", "table", "main", netns=netns_of(pod))
    assert routes, "the pod has no routes at all"
    assert [r["dst"] for r in routes] == [str(node.layout.subnet)], routes
    assert node_host.IP_FORWARD.read_text() == node.changes.ip_forward_before
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    pod_range = str(node_config.POD_RANGE).split("/")[0].rsplit(".", 2)[0]  # "198.18"
    assert pod_range not in nat and "MASQUERADE" not in nat, nat


# The host's own settings that kube-proxy would change unless told not to.
HOST_SYSCTLS = (
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
    "net/ipv4/conf/all/route_localnet",
    "net/ipv4/conf/all/forwarding",
)


EMPTY_TABLE = re.compile(r"\*\w+(\n:[A-Z]+ ACCEPT)*\nCOMMIT")


def firewall() -> list[str]:
    """The rules of iptables and ip6tables, without counters or dates. A table that holds only
    its built-in chains, accepting, is left out: it is what a table never used looks like once
    loaded (kube-proxy's first run on a fresh machine loads them), and it filters nothing."""
    lines = []
    for tool in ("iptables-save", "ip6tables-save"):
        out = subprocess.run([tool], capture_output=True, text=True, check=True).stdout
        out = "\n".join(re.sub(r" \[\d+:\d+\]", "", line) for line in out.splitlines()
                        if not line.startswith("#"))  # fmt: skip
        lines += [line for line in EMPTY_TABLE.sub("", out).splitlines() if line]
    return lines


def host_state(layout: node_config.NodeLayout) -> dict[str, object]:
    root = str(layout.root)
    sysctls = [Path("/proc/sys") / name for name in HOST_SYSCTLS]
    return {
        "firewall": firewall(),
        "rules": [r for r in ip_json("rule", "show") if r.get("iif") == layout.bridge],
        "sysctls": {str(p): p.read_text() for p in sysctls if p.exists()},
        "service_lock_free": _service_lock_free(),
        "bridge": [link["ifname"] for link in ip_json("link") if link["ifname"] == layout.bridge],
        "mounts": [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if root in line or "/run/netns/" in line],
        "netns": sorted(p.name for p in Path("/run/netns").glob("*")),
        "cgroups": [str(p) for p in Path("/sys/fs/cgroup").glob(f"*{layout.cgroup_root}")],
        "ip_forward": node_host.IP_FORWARD.read_text(),
        "shims": [p.name for p in Path("/proc").iterdir() if p.name.isdigit()
                  and root.encode() in _cmdline(p)],
    }  # fmt: skip


def _service_lock_free() -> bool:
    fd = node_host.take_service_lock()
    if fd is not None:
        os.close(fd)
    return fd is not None


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def check_changed(during: dict[str, object], before: dict[str, object], services: bool) -> None:
    """What a running node has changed on the host, as seen in `host_state`."""
    assert during["bridge"] and during["cgroups"] and during["shims"] and during["mounts"]
    if services:  # kube-proxy's chains and the bridge's rules; the host's own settings kept
        assert any("KUBE-SERVICES" in line for line in during["firewall"]), during["firewall"]  # type: ignore[attr-defined]
        assert during["rules"] and not during["service_lock_free"]
        assert during["sysctls"] == before["sysctls"]


# A Service network (kube-proxy's chains) is one node's per machine: the clusters that have one
# are their test module's own (`module_control_plane`), gone before these start theirs.
@pytest.mark.parametrize("services", [False, True], ids=["plain", "services"])
def test_stopping_the_node_leaves_the_host_as_it_found_it(services: bool) -> None:
    """A node of its own, with a pod running, stopped: no bridge, mount, network namespace,
    cgroup or process of it is left, and forwarding is as before; with a Service network, no
    chain of kube-proxy, no routing rule, and the Service network's lock is free."""
    cluster = ControlPlane(ClusterConfig.with_real_node(services=services))
    layout = cluster.node_layout
    assert layout is not None
    before = host_state(layout)
    try:
        cluster.start()
        from devcluster.client import api_client

        with api_client(cluster.kubeconfig) as api:
            run_pod(api, "default", "left-running")
        during = host_state(layout)
    finally:
        cluster.stop()
    check_changed(during, before, services)
    assert host_state(layout) == before


@pytest.mark.parametrize("services", [False, True], ids=["plain", "services"])
def test_a_node_killed_with_its_starter_is_undone_by_its_janitor(
    tmp_path: Path, services: bool
) -> None:
    """kill -9 of `spacecast dev-cluster --real-node` with a pod running: its janitor kills
    the pod's processes and undoes the node's bridge, mounts and cgroups, and its files go;
    with a Service network, kube-proxy's chains and the routing rules too, and the lock is
    free again."""
    records = set(node_host.RECORDS.glob("*.json"))
    out = tmp_path / "dev-cluster.out"
    argv = [sys.executable, "-m", "spacecast.cli", "dev-cluster", "--real-node",
            *(["--real-node-services"] if services else [])]  # fmt: skip
    before_firewall = firewall()
    with out.open("w") as stdout:
        proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.STDOUT)
    workdir = None
    try:
        pattern = re.compile(r"work dir (\S+)\n.*export KUBECONFIG=(\S+)", re.S)
        banner = wait_for(
            "the dev cluster's banner",
            lambda: proc.poll() is None and pattern.search(out.read_text()),
            120,
        )
        workdir, kubeconfig = Path(banner[1]), Path(banner[2])
        (record,) = set(node_host.RECORDS.glob("*.json")) - records
        layout = node_host.Changes.load(record).layout
        from devcluster.client import api_client

        with api_client(kubeconfig) as api:
            run_pod(api, "default", "orphan")
        during = host_state(layout)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        janitor = str(record).encode()  # on its command line
        wait_for("the janitor to finish", lambda: not node_host.processes_naming(janitor), 60)
    finally:
        proc.kill()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    check_changed(during, during, services)
    after = host_state(layout)
    assert (after["bridge"], after["cgroups"], after["shims"], after["mounts"]) == ([], [], [], [])
    assert (after["firewall"], after["rules"], after["service_lock_free"]) == (
        before_firewall, [], True)  # fmt: skip
    assert not layout.root.exists()


@pytest.mark.parametrize("services", [False, True], ids=["plain", "services"])
def test_a_record_without_its_janitor_is_swept_by_the_next_node(
    tmp_path: Path, services: bool
) -> None:
    """A node whose starter and janitor both died: its record (here with a bridge, a cgroup
    and a mount of its own; with a Service network, its routing rules) is undone when the
    next node is planned."""
    layout = node_config.NodeLayout(
        root=tmp_path / "node", bridge="scdeadbeef", subnet=node_mod.free_subnet(),
        kubelet_port=1, kubelet_healthz_port=2,
        services=node_config.ServicePorts(3, 4, 5) if services else None,
    )  # fmt: skip
    proxy = str(binaries.locate().path("kube-proxy")) if services else ""
    changes = node_host.Changes(layout, node_host.IP_FORWARD.read_text(), proxy)
    record = changes.save()
    node_host.make(changes)
    (layout.root / "mnt").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(layout.root / "mnt")], check=True)
    assert node_host.sweep_orphans() == []  # too young: it may be a node starting
    os.utime(record, (0, 0))
    during = host_state(layout)
    assert during["bridge"] and during["cgroups"] and bool(during["rules"]) == services
    node_mod.plan(tmp_path / "next")
    after = host_state(layout)
    assert not record.exists() and not layout.root.exists()
    assert (after["bridge"], after["cgroups"], after["mounts"], after["rules"]) == ([], [], [], [])
