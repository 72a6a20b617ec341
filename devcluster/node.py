"""A real node for the dev cluster: Debian's containerd and runc and the pinned kubelet on this
machine, its pods on a bridge of their own, registered to the cluster's apiserver.

Pods reach this machine at the bridge's address (`gateway`) and nothing beyond: their only
route is the bridge's subnet, nothing masquerades them, and forwarding stays as it was. A node
with a Service network (devcluster/service_network.py: kube-proxy and CoreDNS, one node per
machine) adds a route to the Services' virtual IPs through the host, whose routing sends them
back onto the bridge or to this machine, and nowhere else.

Stopping it: its pods are deleted through the API first, so the kubelet stops them and the
CNI plugin unplugs them; then the kubelet and containerd stop, and devcluster/node_host.py
undoes what the node changed on the host. A node killed any other way is undone by its janitor
(devcluster/node_janitor.py) the moment its starter is gone.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from devcluster import kubeconfig, node_config, node_host, oci, service_network
from devcluster.binaries import Binaries, pinned_versions
from devcluster.certs import ClusterPKI
from devcluster.components import http_ok
from devcluster.node_config import NODE_NAME, NodeLayout, ServicePorts
from devcluster.processes import ManagedProcess, free_ports, start_healthy, wait_until
from spacecast.logs import get_logger

log = get_logger(__name__)

STARTUP_TIMEOUT = 60.0
DRAIN_TIMEOUT = 40.0


class NodeUnavailable(RuntimeError):
    """This machine cannot run a real node; the message says what is missing."""


def prerequisites() -> list[str]:
    """What this machine lacks for a real node (empty: nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (mounts, network namespaces, cgroups)")
    if not node_host.ip_command():
        missing.append("the `ip` command (Debian's iproute2: scripts/install-deps.sh)")
    cgroups = node_host.CGROUP_ROOT
    if not (cgroups / "memory").is_dir() and not (cgroups / "cgroup.controllers").exists():
        missing.append(f"a cgroup file system at {cgroups}")
    return missing


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of the benchmarking range that no route of this machine covers yet, nor the
    Services' virtual IPs."""
    out = node_host.ip("-j", "-4", "route", "show", "table", "all")
    taken = [
        ipaddress.ip_network(r["dst"], strict=False)
        for r in json.loads(out or "[]")
        if r.get("dst", "default") not in ("default", "")
    ] + [service_network.service_range()]
    for subnet in node_config.POD_RANGE.subnets(new_prefix=24):
        if not any(subnet.overlaps(t) for t in taken):
            return ipaddress.IPv4Network(subnet)
    raise NodeUnavailable(f"every /24 of {node_config.POD_RANGE} is routed on this machine")


def plan(workdir: Path, services: bool = False) -> NodeLayout:
    """Where a new node will live: before the cluster's PKI, which names its address.
    `services`: with a Service network (kube-proxy and CoreDNS)."""
    if missing := prerequisites() + (service_prerequisites() if services else []):
        raise NodeUnavailable(f"a real node needs {'; '.join(missing)}")
    for record in node_host.sweep_orphans():
        log.warning("undid an orphaned real node", record=str(record))
    kubelet_port, healthz_port, *service_ports = free_ports(5)
    return NodeLayout(
        root=workdir / "node",
        bridge=f"sc{secrets.token_hex(4)}",
        subnet=free_subnet(),
        kubelet_port=kubelet_port,
        kubelet_healthz_port=healthz_port,
        services=ServicePorts(*service_ports) if services else None,
    )


def service_prerequisites() -> list[str]:
    """What this machine lacks for a Service network (empty: nothing)."""
    missing = []
    if not Path("/proc/sys/net/bridge").is_dir():
        missing.append("the br_netfilter kernel module, for a Service network (modprobe it)")
    if not shutil.which("iptables-restore", path=node_host.SYSTEM_PATH):
        missing.append("iptables, for a Service network (scripts/install-deps.sh)")
    return missing


class RealNode:
    """One kubelet node; `start` and `stop` as the control plane's own components."""

    def __init__(self, bins: Binaries, pki: ClusterPKI, server: str, layout: NodeLayout) -> None:
        self.bins, self.pki, self.server, self.layout = bins, pki, server, layout
        proxy = str(bins.path("kube-proxy")) if layout.services else ""
        self.changes = node_host.Changes(layout, node_host.IP_FORWARD.read_text(), proxy)
        self._procs: dict[str, ManagedProcess] = {}
        self._service_lock: int | None = None
        self._imported: set[Path] = set()
        self._janitor: subprocess.Popen[bytes] | None = None

    @property
    def gateway(self) -> str:
        return self.layout.gateway

    def prepare(self, admin_kubeconfig: Path) -> RealNode:
        """Its host side: the record, its janitor, the bridge and the cgroups. Before the
        control plane, whose apiserver may listen on the bridge."""
        try:
            self._start_janitor()
            node_host.make(self.changes)
        except BaseException:
            self.stop(admin_kubeconfig)
            raise
        return self

    def start(self, admin_kubeconfig: Path) -> RealNode:
        """After `prepare`, once the apiserver answers."""
        try:
            self._start_containerd()
            self.import_image(self._pause_archive())
            self._start_kubelet()
            self._wait_ready(admin_kubeconfig)
            if self.layout.services:
                self._start_service_network(admin_kubeconfig)
        except BaseException:
            self.stop(admin_kubeconfig)
            raise
        return self

    def import_image(self, archive: Path) -> None:
        """Load an image archive (OCI or docker-archive) into the node's containerd, where
        pods with `imagePullPolicy: IfNotPresent` or `Never` find it. Once per archive."""
        if archive in self._imported:
            return
        argv = node_config.ctr_argv(self.layout, self.bins, "images", "import", str(archive))
        subprocess.run(argv, check=True, capture_output=True)
        self._imported.add(archive)

    def stop(self, admin_kubeconfig: Path) -> None:
        """Its pods, its processes, then what it changed on the host; idempotent."""
        try:
            self._drain(admin_kubeconfig)
        except Exception as exc:  # whatever is left is killed below
            log.debug("node drain failed", error=str(exc))
        for proc in reversed(list(self._procs.values())):
            proc.stop()
        self._procs.clear()
        # kube-proxy's chains are the host's: only the Service network's lock holder's to remove.
        node_host.undo(self.changes, chains=self._service_lock is not None)
        janitor, self._janitor = self._janitor, None
        if janitor is not None:  # the record is gone: it exits without a thing to do
            assert janitor.stdin is not None
            janitor.stdin.close()
            janitor.wait(timeout=30)
        lock, self._service_lock = self._service_lock, None
        if lock is not None:
            os.close(lock)

    def _start_janitor(self) -> None:
        """The Service network's lock, the record, then its janitor (which holds the lock too):
        from here on, any end of ours gets undone."""
        if self.layout.services:
            self._service_lock = node_host.take_service_lock()
            if self._service_lock is None:
                raise NodeUnavailable(
                    "another real node on this machine runs the Service network (kube-proxy "
                    "owns the host's KUBE-* chains): stop it, or start this one without"
                )
        record = self.changes.save()
        self._janitor = subprocess.Popen(
            [sys.executable, "-m", "devcluster.node_janitor", str(record)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # not ours to kill, nor the terminal's (Ctrl-C)
            pass_fds=() if self._service_lock is None else (self._service_lock,),
        )

    # -- start -----------------------------------------------------------------------------

    def _start_containerd(self) -> None:
        layout = self.layout
        layout.cni_conf_dir.mkdir(parents=True)
        layout.containerd_config.parent.mkdir(parents=True, exist_ok=True)
        layout.containerd_config.write_text(node_config.containerd_config(layout, self.bins))
        routes = service_network.pod_routes(layout) if layout.services else []
        network = node_config.cni_network(layout, routes)
        (layout.cni_conf_dir / "10-spacecast.conflist").write_text(json.dumps(network, indent=2))
        # The shim is found on PATH, next to the containerd it belongs to.
        env = dict(os.environ, PATH=f"{self.bins.bin_dir}:{os.environ.get('PATH', '/usr/bin')}")
        version = node_config.ctr_argv(layout, self.bins, "version")
        self._run(
            "containerd",
            node_config.containerd_argv(layout, self.bins),
            lambda: subprocess.run(version, capture_output=True, timeout=5).returncode == 0,
            env,
        )

    def _pause_archive(self) -> Path:
        path = self.layout.root / "pause.tar"
        path.write_bytes(oci.single_binary_image(node_config.PAUSE_IMAGE, self.bins.path("pause")))
        return path

    def _start_kubelet(self) -> None:
        layout, pki = self.layout, self.pki
        assert pki.kubelet_serving is not None, "the PKI was made without the node's certs"
        dns = service_network.kubelet_dns(layout) if layout.services else {}
        config = node_config.kubelet_config(layout, pki.client_ca, pki.kubelet_serving, dns)
        layout.kubelet_config.write_text(yaml.safe_dump(config))
        kc = self._client_kubeconfig("kubelet")
        url = f"http://127.0.0.1:{layout.kubelet_healthz_port}/healthz"
        self._run("kubelet", node_config.kubelet_argv(layout, self.bins, kc), lambda: http_ok(url))

    def _start_service_network(self, admin_kubeconfig: Path) -> None:
        """kube-proxy, then CoreDNS with its RBAC; each healthy once it has synced."""
        from devcluster import client

        layout, ports = self.layout, self.layout.service_ports
        proxy_kc = self._client_kubeconfig("kube-proxy")
        config = layout.root / "kube-proxy.yaml"
        config.write_text(yaml.safe_dump(service_network.kube_proxy_config(layout, proxy_kc)))
        url = f"http://127.0.0.1:{ports.proxy_healthz}/healthz"
        env = dict(os.environ, PATH=node_host.SYSTEM_PATH)  # it runs iptables-restore
        self._run("kube-proxy", service_network.kube_proxy_argv(self.bins, config),
                  lambda: http_ok(url, expect=None), env)  # fmt: skip
        with client.api_client(admin_kubeconfig) as api:
            client.create_objects(api, service_network.dns_rbac())
        corefile = layout.root / "Corefile"
        corefile.write_text(service_network.corefile(layout, self._client_kubeconfig("coredns")))
        ready = f"http://127.0.0.1:{ports.dns_ready}/ready"
        self._run("coredns", service_network.coredns_argv(self.bins, corefile),
                  lambda: http_ok(ready, expect=None))  # fmt: skip
        self.import_image(self._kubectl_archive())

    @property
    def kubectl_image(self) -> str:
        """The cluster's own kubectl as an image, present on a node with a Service network."""
        version = pinned_versions()["KUBERNETES_VERSION"]
        return service_network.KUBECTL_IMAGE.format(version=version)

    def _kubectl_archive(self) -> Path:
        path = self.layout.root / "kubectl.tar"
        kubectl = self.bins.path("kubectl")
        path.write_bytes(oci.single_binary_image(self.kubectl_image, kubectl,
                                                 service_network.KUBECTL_PATH))  # fmt: skip
        return path

    def _client_kubeconfig(self, component: str) -> Path:
        path = self.layout.root / f"{component}.kubeconfig"
        client_pair = self.pki.clients[component]
        return kubeconfig.write(path, self.server, self.pki.serving_ca, client_pair, component)

    def _wait_ready(self, admin_kubeconfig: Path) -> None:
        from devcluster import client  # imports the kubernetes package: only when needed

        with client.api_client(admin_kubeconfig) as api:
            wait_until(
                lambda: client.node_schedulable(api, NODE_NAME, untainted=True),
                timeout=STARTUP_TIMEOUT,
                what=f"node {NODE_NAME} Ready and schedulable",
            )

    def _run(
        self,
        name: str,
        argv: list[str],
        healthy: Callable[[], bool],
        env: dict[str, str] | None = None,
    ) -> None:
        path = self.layout.root / "logs" / f"{name}.log"
        start_healthy(self._procs, name, argv, path, healthy, STARTUP_TIMEOUT, env)

    # -- stop ------------------------------------------------------------------------------

    def _drain(self, admin_kubeconfig: Path) -> None:
        """Delete the node's pods now and wait until containerd runs none of them: the kubelet
        stops each sandbox, and the CNI plugin unplugs it."""
        if "kubelet" not in self._procs or not self._procs["kubelet"].running:
            return
        from devcluster import client

        with client.api_client(admin_kubeconfig) as api:
            client.delete_pods_on(api, NODE_NAME)
        wait_until(lambda: not self._running_tasks(), timeout=DRAIN_TIMEOUT,
                   what="the node's pods to stop", interval=0.5)  # fmt: skip

    def _running_tasks(self) -> list[str]:
        argv = node_config.ctr_argv(self.layout, self.bins, "tasks", "ls")
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=10).stdout
        return [line.split()[0] for line in out.splitlines()[1:] if "RUNNING" in line.split()]
