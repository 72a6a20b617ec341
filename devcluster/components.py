"""Command lines of the control-plane components, and how to tell each one is healthy.

Flags follow controller-runtime's envtest and kwokctl's binary runtime: loopback only,
no leader election (one replica), and nothing that needs a real node or cloud.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devcluster.binaries import Binaries
from devcluster.certs import ClusterPKI

# Services' virtual IPs: a /24 of the benchmarking range (RFC 2544), as the real node's pods
# (devcluster/node_config.POD_RANGE; the node never takes this one). A range that real networks
# use would have kube-proxy capture this machine's own traffic to it.
SERVICE_CIDR = "198.19.255.0/24"
SERVICE_IP = "198.19.255.1"  # first address of SERVICE_CIDR: the `kubernetes` Service
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


def etcd_argv(bins: Binaries, data_dir: Path, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(bins.path("etcd")),
        "--name=default",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        # Throwaway data: skip fsync, which dominates write latency on slow disks.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_argv(
    bins: Binaries,
    pki: ClusterPKI,
    ports: Ports,
    workdir: Path,
    *,
    watch_cache: bool,
    audit_log: Path,
    audit_policy: Path,
    real_node: bool = False,
    address: str = "127.0.0.1",
) -> list[str]:
    """`address`: where it listens and what it publishes as the `kubernetes` Service's endpoint
    (which may not be a loopback address: then it publishes none, and nothing here needs it)."""
    loopback = ipaddress.ip_address(address).is_loopback
    return [
        str(bins.path("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        f"--bind-address={address}",
        f"--advertise-address={address}",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={workdir / 'apiserver'}",
        f"--tls-cert-file={pki.serving.cert}",
        f"--tls-private-key-file={pki.serving.key}",
        f"--client-ca-file={pki.client_ca}",
        "--authorization-mode=Node,RBAC" if real_node else "--authorization-mode=RBAC",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_public_key}",
        f"--service-account-signing-key-file={pki.sa_private_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        *(_real_node_flags(pki) if real_node else _fake_node_flags()),
        "--allow-privileged=true",
        *(["--endpoint-reconciler-type=none"] if loopback else []),
        f"--watch-cache={'true' if watch_cache else 'false'}",
        # Close open watches on SIGTERM instead of waiting (forever) for them to drain, so
        # a restart takes about a second, as clients see when a real apiserver rolls.
        "--shutdown-watch-termination-grace-period=1s",
        f"--audit-log-path={audit_log}",
        f"--audit-policy-file={audit_policy}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        "--profiling=false",
    ]


def _fake_node_flags() -> list[str]:
    # As envtest: Pods need not wait for a default ServiceAccount to exist.
    return ["--disable-admission-plugins=ServiceAccount"]


def _real_node_flags(pki: ClusterPKI) -> list[str]:
    """A real kubelet joins: as a real cluster does, pods get their ServiceAccount (and token),
    the kubelet may touch only its own node and pods, and the apiserver calls the kubelet with
    its own client certificate, checking the kubelet's serving certificate."""
    client = pki.clients["apiserver-kubelet"]
    return [
        "--enable-admission-plugins=NodeRestriction",
        f"--kubelet-client-certificate={client.cert}",
        f"--kubelet-client-key={client.key}",
        f"--kubelet-certificate-authority={pki.serving_ca}",
        "--kubelet-preferred-address-types=InternalIP",
    ]


def controller_manager_argv(
    bins: Binaries, pki: ClusterPKI, kubeconfig: Path, ports: Ports, workdir: Path
) -> list[str]:
    return [
        str(bins.path("kube-controller-manager")),
        *_delegated_auth(kubeconfig),
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={workdir / 'controller-manager'}",
        "--leader-elect=false",
        # Signs ServiceAccount token Secrets and publishes the CA in kube-root-ca.crt.
        f"--service-account-private-key-file={pki.sa_private_key}",
        f"--root-ca-file={pki.serving_ca}",
        # Notice kwok nodes turning Ready quickly, so the not-ready taint goes away fast.
        "--node-monitor-period=1s",
    ]


def scheduler_argv(bins: Binaries, kubeconfig: Path, ports: Ports, workdir: Path) -> list[str]:
    return [
        str(bins.path("kube-scheduler")),
        *_delegated_auth(kubeconfig),
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={workdir / 'scheduler'}",
        "--leader-elect=false",
    ]


def _delegated_auth(kubeconfig: Path) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
    ]


def kwok_argv(bins: Binaries, kubeconfig: Path, ports: Ports) -> list[str]:
    return [
        str(bins.path("kwok")),
        f"--kubeconfig={kubeconfig}",
        f"--config={bins.kwok_stages}",
        # Only nodes we create for kwok: a real node joining by mistake stays untouched.
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_VALUE}",
        f"--cidr={POD_CIDR}",
        f"--server-address=127.0.0.1:{ports.kwok}",
        "--node-lease-duration-seconds=40",
    ]


def fake_node(name: str) -> dict[str, object]:
    """A Node kwok will manage: it fills in conditions and heartbeats, we give capacity."""
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_VALUE},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def http_ok(url: str, context: ssl.SSLContext | None = None, expect: bytes | None = b"ok") -> bool:
    """A 200 (whatever the body, with `expect` None)."""
    with urllib.request.urlopen(url, timeout=2, context=context) as response:
        body = response.read().strip()
        return bool(response.status == 200 and (expect is None or body == expect))


def etcd_healthy(ports: Ports) -> bool:
    url = f"http://127.0.0.1:{ports.etcd_client}/health"
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(json.loads(response.read()).get("health") == "true")


def insecure_context() -> ssl.SSLContext:
    """For the self-signed health ports of kube-controller-manager and kube-scheduler."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def admin_context(pki: ClusterPKI) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.serving_ca))
    admin = pki.clients["admin"]
    context.load_cert_chain(str(admin.cert), str(admin.key))
    return context
