"""The real node's configuration, as data: containerd's config, the CNI network, the kubelet's
KubeletConfiguration and command lines. Pure functions of a `NodeLayout`; devcluster/node.py
writes them and starts the processes.

Everything the node writes lives under its layout's directory (the cluster's temp dir), never
in /var/lib/kubelet, /var/lib/containerd or /var/lib/cni: the defaults would outlive the node.
Odd settings, each needed on our machines (Debian bookworm, cgroup v1 hybrid, no systemd):
- containerd `restrict_oom_score_adj`: the bounding set lacks CAP_SYS_RESOURCE, and runc fails
  sandbox creation (`can't get final child's PID from pipe: EOF`) when asked to lower a score.
- kubelet `failCgroupV1: false` (it refuses cgroup v1 otherwise), `cgroupDriver: cgroupfs` (no
  systemd), `makeIPTablesUtilChains: false` (the host's iptables stay untouched), and
  `podLogsDir` (unknown fields are ignored silently: `podLogsDirectory` would be).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devcluster.binaries import Binaries
from devcluster.certs import KeyPair

NODE_NAME = "real-node-0"
PAUSE_IMAGE = "localhost/spacecast/pause:1"
CNI_NETWORK = "spacecast"
# Pods get addresses from the benchmarking range (RFC 2544), which no real network uses.
POD_RANGE = ipaddress.ip_network("198.18.0.0/15")
K8S_NAMESPACE = "k8s.io"  # containerd's namespace for the CRI's images and containers


@dataclass(frozen=True)
class ServicePorts:
    """The local ports of the node's Service network (devcluster/service_network.py)."""

    proxy_healthz: int
    proxy_metrics: int
    dns_ready: int


@dataclass(frozen=True)
class NodeLayout:
    """Where one node keeps its state, and its network."""

    root: Path
    bridge: str  # the host's bridge: at most 15 characters
    subnet: ipaddress.IPv4Network  # a /24 of POD_RANGE
    kubelet_port: int
    kubelet_healthz_port: int
    services: ServicePorts | None = None  # None: no Service network (kube-proxy, CoreDNS)

    @property
    def service_ports(self) -> ServicePorts:
        assert self.services is not None, "a node without a Service network"
        return self.services

    @property
    def gateway(self) -> str:
        """The bridge's own address: where pods reach the host (the simulator, the ingest)."""
        return str(next(self.subnet.hosts()))

    @property
    def cgroup_root(self) -> str:
        """The node's own cgroup (in every hierarchy): its pods' cgroups go below it, so two
        nodes on one machine never see each other's pods as orphans to clean up."""
        return f"/{self.bridge}"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.root / "containerd" / "config.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet_dir(self) -> Path:
        return self.root / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet-config.yaml"


def layout_to_json(layout: NodeLayout) -> dict[str, Any]:
    return {
        "root": str(layout.root),
        "bridge": layout.bridge,
        "subnet": str(layout.subnet),
        "kubelet_port": layout.kubelet_port,
        "kubelet_healthz_port": layout.kubelet_healthz_port,
        "services": asdict(layout.services) if layout.services else None,
    }


def layout_from_json(data: dict[str, Any]) -> NodeLayout:
    return NodeLayout(
        root=Path(data["root"]),
        bridge=str(data["bridge"]),
        subnet=ipaddress.IPv4Network(data["subnet"]),
        kubelet_port=int(data["kubelet_port"]),
        kubelet_healthz_port=int(data["kubelet_healthz_port"]),
        services=ServicePorts(**services) if (services := data.get("services")) else None,
    )


def containerd_config(layout: NodeLayout, bins: Binaries) -> str:
    """containerd 1.6's config (version 2) for a CRI node whose only runtime is runc."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    base = layout.root / "containerd"
    return "\n".join([
        "version = 2",
        f'root = "{base / "root"}"',
        f'state = "{base / "state"}"',
        # Snapshotters and services a CRI node on ext4 never uses.
        'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", '
        '"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", '
        '"io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", '
        '"io.containerd.tracing.processor.v1.otlp"]',
        "[grpc]",
        f'  address = "{layout.containerd_socket}"',
        "[ttrpc]",
        f'  address = "{base / "containerd.sock.ttrpc"}"',
        "[debug]",
        f'  address = "{base / "debug.sock"}"',
        f"[{cri}]",
        f'  sandbox_image = "{PAUSE_IMAGE}"',
        "  restrict_oom_score_adj = true",
        # Pods' network namespaces pinned under the state dir, not in the host's /run/netns.
        "  netns_mounts_under_state_dir = true",
        "  enable_selinux = false",
        f"[{cri}.containerd]",
        '  snapshotter = "overlayfs"',
        '  default_runtime_name = "runc"',
        f"[{cri}.containerd.runtimes.runc]",
        '  runtime_type = "io.containerd.runc.v2"',
        f"[{cri}.containerd.runtimes.runc.options]",
        f'  BinaryName = "{bins.path("runc")}"',
        "  SystemdCgroup = false",
        f"[{cri}.cni]",
        f'  bin_dir = "{bins.path("cni")}"',
        f'  conf_dir = "{layout.cni_conf_dir}"',
        "  max_conf_num = 1",
        "",
    ])  # fmt: skip


def cni_network(layout: NodeLayout, routes: list[dict[str, str]]) -> dict[str, Any]:
    """A bridge with host-local addresses and no default route, no masquerade, no forwarding:
    a pod reaches this machine's bridge address, `routes` (the Service network's virtual IPs,
    through the host) and nothing off the machine."""
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.bridge,
                # devcluster/node.py puts the host's address on the bridge: as a gateway the
                # plugin would also turn on the host's forwarding.
                "isGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(layout.subnet), "gateway": layout.gateway}]],
                    "routes": routes,
                    "dataDir": str(layout.root / "cni" / "ipam"),
                },
            },
            {"type": "loopback"},
        ],
    }


def kubelet_config(
    layout: NodeLayout, client_ca: Path, serving: KeyPair, dns: dict[str, Any]
) -> dict[str, Any]:
    """The KubeletConfiguration: this machine only, authenticated and authorized by the apiserver
    (client certificates from the cluster's client CA, webhook for the rest); `dns`, the
    cluster DNS written into pods' resolv.conf, when the node has one."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # The bridge's address: on this machine only, and not loopback, which the apiserver
        # refuses to proxy to and the kubelet refuses as a node address.
        "address": layout.gateway,
        "port": layout.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": layout.kubelet_healthz_port,
        "tlsCertFile": str(serving.cert),
        "tlsPrivateKeyFile": str(serving.key),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup_root,
        "failCgroupV1": False,
        "makeIPTablesUtilChains": False,
        "podLogsDir": str(layout.root / "pod-logs"),
        "resolvConf": "/etc/resolv.conf",
        # A development machine's disk and memory are shared: evict only at the very end, and
        # never garbage-collect the imported images (they cannot be pulled back).
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "5s",
        **dns,
    }  # fmt: skip


def kubelet_argv(layout: NodeLayout, bins: Binaries, kubeconfig: Path) -> list[str]:
    return [
        str(bins.path("kubelet")),
        f"--config={layout.kubelet_config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={layout.kubelet_dir}",
        f"--cert-dir={layout.root / 'kubelet-pki'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={layout.gateway}",
        "--v=1",
    ]


def containerd_argv(layout: NodeLayout, bins: Binaries) -> list[str]:
    return [str(bins.path("containerd")), f"--config={layout.containerd_config}"]


def ctr_argv(layout: NodeLayout, bins: Binaries, *args: str) -> list[str]:
    """containerd's own client, on the node's socket, in the CRI's namespace."""
    return [
        str(bins.path("ctr")),
        f"--address={layout.containerd_socket}",
        f"--namespace={K8S_NAMESPACE}",
        *args,
    ]
