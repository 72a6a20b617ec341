"""A real, throwaway Kubernetes control plane on loopback: etcd, kube-apiserver and, on
request, kube-controller-manager, kube-scheduler, kwok with fake nodes, and a real node
(devcluster/node.py: a kubelet with containerd, whose pods run).

Everything lives in one temp dir (certs, kubeconfigs, etcd data, logs, audit log) that is
removed on stop. Components are stopped by process group, newest first.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from devcluster import binaries as binaries_mod
from devcluster import certs, components, kubeconfig, node
from devcluster.audit import POLICY, AuditLog
from devcluster.components import Ports
from devcluster.node import RealNode
from devcluster.node_config import NODE_NAME
from devcluster.processes import ManagedProcess, free_ports, start_healthy, wait_until
from spacecast.logs import get_logger

log = get_logger(__name__)

STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True)
class ClusterConfig:
    """Which components to run. Hashable, so equal configs can share one cluster."""

    controller_manager: bool = False
    scheduler: bool = False
    kwok_nodes: int = 0
    watch_cache: bool = True
    real_node: bool = False  # a kubelet with containerd (devcluster/node.py): pods really run
    services: bool = False  # the real node's Service network (devcluster/service_network.py)

    @classmethod
    def full(cls, nodes: int = 1) -> ClusterConfig:
        return cls(controller_manager=True, scheduler=True, kwok_nodes=nodes)

    @classmethod
    def with_real_node(cls, services: bool = False) -> ClusterConfig:
        """A cluster whose pods run: the real node, and the components a real cluster has
        (the controller-manager creates ServiceAccounts, the scheduler binds pods); with
        `services`, its Service network too."""
        return cls(controller_manager=True, scheduler=True, real_node=True, services=services)


class ControlPlane:
    def __init__(
        self,
        config: ClusterConfig | None = None,
        bins: binaries_mod.Binaries | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.config = config or ClusterConfig()
        self.bins = bins or binaries_mod.locate()
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="spacecast-cluster-"))
        self.ports = Ports(*free_ports(6))
        services = self.config.services
        self.node_layout = node.plan(self.workdir, services) if self.config.real_node else None
        named = (NODE_NAME, self.node_layout.gateway) if self.node_layout else None
        self.pki = certs.generate(self.workdir / "pki", components.SERVICE_IP, named)
        self.audit = AuditLog(self.workdir / "audit.log")
        self.kubeconfig = self._write_kubeconfig("admin")
        self._procs: dict[str, ManagedProcess] = {}
        self.node: RealNode | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        try:
            if self.node_layout:  # its bridge first: the apiserver may listen there
                self.node = RealNode(self.bins, self.pki, self.server, self.node_layout)
                self.node.prepare(self.kubeconfig)
            self._start_etcd()
            self.start_apiserver()
            self._start_optional()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every component (the real node first, while the apiserver can still tell its
        kubelet to stop the pods; then newest first) and remove the work dir; idempotent."""
        node, self.node = self.node, None
        if node is not None:
            node.stop(self.kubeconfig)
        for proc in reversed(list(self._procs.values())):
            proc.stop()
        self._procs.clear()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def api_address(self) -> str:
        """Where the apiserver listens: loopback, or the real node's bridge when the node has a
        Service network (the `kubernetes` Service's endpoint may not be a loopback address)."""
        layout = self.node_layout
        return layout.gateway if layout and layout.services else "127.0.0.1"

    @property
    def server(self) -> str:
        return f"https://{self.api_address}:{self.ports.apiserver}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.etcd_client}"

    def log_path(self, component: str) -> Path:
        return self.workdir / "logs" / f"{component}.log"

    def processes(self) -> dict[str, ManagedProcess]:
        return dict(self._procs)

    # -- apiserver knobs -------------------------------------------------------------------

    def start_apiserver(self) -> None:
        """Start kube-apiserver (again) on the same port and etcd; wait until ready."""
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(POLICY)
        argv = components.apiserver_argv(
            self.bins, self.pki, self.ports, self.workdir,
            watch_cache=self.config.watch_cache,
            audit_log=self.audit.path, audit_policy=policy, real_node=self.config.real_node,
            address=self.api_address,
        )  # fmt: skip
        context = components.admin_context(self.pki)
        self._run(
            "kube-apiserver", argv, lambda: components.http_ok(f"{self.server}/readyz", context)
        )

    def stop_apiserver(self) -> None:
        proc = self._procs.pop("kube-apiserver", None)
        if proc is not None:
            proc.stop()

    def restart_apiserver(self) -> None:
        self.stop_apiserver()
        self.start_apiserver()

    @property
    def apiserver_running(self) -> bool:
        proc = self._procs.get("kube-apiserver")
        return proc is not None and proc.running

    # -- etcd knobs ------------------------------------------------------------------------

    def etcd_revision(self) -> int:
        reply = self._etcd_post("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})
        return int(reply["header"]["revision"])

    def compact_etcd(self) -> int:
        """Compact etcd history up to now, so a watch from any older resourceVersion gets
        410 Gone (with --watch-cache=false the apiserver passes watches straight to etcd)."""
        revision = self.etcd_revision()
        self._etcd_post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def _etcd_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # etcd's gRPC gateway: the same API etcdctl uses, without building etcdctl.
        request = urllib.request.Request(
            self.etcd_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    # -- internals -------------------------------------------------------------------------

    def _run(self, name: str, argv: list[str], healthy: Callable[[], bool]) -> None:
        start_healthy(self._procs, name, argv, self.log_path(name), healthy, STARTUP_TIMEOUT)

    def _write_kubeconfig(self, component: str) -> Path:
        path = self.workdir / f"{component}.kubeconfig"
        client = self.pki.clients[component]
        return kubeconfig.write(path, self.server, self.pki.serving_ca, client, component)

    def _start_etcd(self) -> None:
        argv = components.etcd_argv(self.bins, self.workdir / "etcd", self.ports)
        self._run("etcd", argv, lambda: components.etcd_healthy(self.ports))

    def _start_optional(self) -> None:
        insecure = components.insecure_context()
        if self.config.controller_manager:
            kc = self._write_kubeconfig("controller-manager")
            argv = components.controller_manager_argv(
                self.bins, self.pki, kc, self.ports, self.workdir
            )
            url = f"https://127.0.0.1:{self.ports.controller_manager}/healthz"
            self._run("kube-controller-manager", argv, lambda: components.http_ok(url, insecure))
        if self.config.scheduler:
            kc = self._write_kubeconfig("scheduler")
            argv = components.scheduler_argv(self.bins, kc, self.ports, self.workdir)
            url = f"https://127.0.0.1:{self.ports.scheduler}/healthz"
            self._run("kube-scheduler", argv, lambda: components.http_ok(url, insecure))
        if self.config.kwok_nodes:
            kc = self._write_kubeconfig("kwok")
            argv = components.kwok_argv(self.bins, kc, self.ports)
            url = f"http://127.0.0.1:{self.ports.kwok}/healthz"
            self._run("kwok", argv, lambda: components.http_ok(url))
            self._add_nodes(self.config.kwok_nodes)
        if self.node:
            self.node.start(self.kubeconfig)  # a failed start has cleaned up after itself

    def _add_nodes(self, count: int) -> None:
        from devcluster import client  # imports the kubernetes package: only when needed

        kcm = self.config.controller_manager
        with client.api_client(self.kubeconfig) as api:
            names = [f"kwok-node-{i}" for i in range(count)]
            for name in names:
                client.create_node(api, components.fake_node(name))
            # Schedulable = Ready (kwok) and, with the controller-manager running, the
            # not-ready taint removed; otherwise a first Pod would sit Pending for a while.
            wait_until(
                lambda: all(client.node_schedulable(api, n, untainted=kcm) for n in names),
                timeout=STARTUP_TIMEOUT,
                what=f"{count} kwok node(s) schedulable",
            )
