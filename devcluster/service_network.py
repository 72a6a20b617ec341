"""The real node's Service network, as data: what a cluster's pods expect beyond their bridge.

- kube-proxy (iptables mode) turns Services' virtual IPs (components.SERVICE_CIDR) into their
  endpoints: another pod on the bridge, or the apiserver on 127.0.0.1 for `kubernetes`.
- CoreDNS, with only its kubernetes plugin (devcluster/go/coredns), answers `*.cluster.local`
  on the bridge's address, which the kubelet writes into every pod's resolv.conf.
- The host routes for the bridge and nothing else (`bridge_sysctls`, `confinement_rules`): a
  packet that arrives on the bridge may be routed back onto it (to a Service's endpoint) or
  delivered to this machine, and is unreachable anywhere else. Host-wide forwarding stays as
  it was, and every setting here lives on the bridge and dies with it, except the rules,
  which devcluster/node_host.py removes.

Settings that keep kube-proxy off the rest of the host: conntrack sizes and timeouts at 0
(leave the machine's own), `localhostNodePorts: false` (it would turn on route_localnet for
every interface), NodePorts on the bridge's address only, and its oom_score_adj left alone
(lowering it needs CAP_SYS_RESOURCE, which the machine's bounding set lacks).

kube-proxy owns the host's KUBE-* chains whole, so one node per machine may run it
(`LOCK`); `kube-proxy --cleanup` removes them when that node goes.

Pure functions of a NodeLayout; devcluster/node.py writes them and starts the processes.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from devcluster.binaries import Binaries
from devcluster.components import SERVICE_CIDR
from devcluster.node_config import NODE_NAME, NodeLayout

CLUSTER_DOMAIN = "cluster.local"
# The cluster's own kubectl as an image (`helm test` hooks run kubectl; none can be pulled here).
KUBECTL_IMAGE = "localhost/spacecast/kubectl:{version}"
KUBECTL_PATH = "/usr/local/bin/kubectl"
LOCK = Path("/run/spacecast/service-network.lock")
# Just after the `local` table's rule (0), before any rule of the machine's own.
RULE_PRIORITY = 100
PROXY_USER = "system:kube-proxy"  # bound to system:node-proxier by the default RBAC policy
DNS_USER = "system:coredns"


def service_range() -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(SERVICE_CIDR)


def pod_routes(layout: NodeLayout) -> list[dict[str, str]]:
    """A pod's one route beyond its subnet: the Services' virtual IPs, through the host."""
    return [{"dst": SERVICE_CIDR, "gw": layout.gateway}]


def kubelet_dns(layout: NodeLayout) -> dict[str, Any]:
    return {"clusterDNS": [layout.gateway], "clusterDomain": CLUSTER_DOMAIN}


def bridge_sysctls(layout: NodeLayout) -> dict[Path, str]:
    """Per-interface settings of the bridge (gone with it): what arrives on it may be routed
    (`forwarding`: a Service's endpoint on the same bridge) and may be delivered to 127.0.0.1
    (`route_localnet`: the apiserver, the `kubernetes` Service's endpoint)."""
    conf = Path("/proc/sys/net/ipv4/conf") / layout.bridge
    return {conf / "forwarding": "1", conf / "route_localnet": "1"}


def bridge_nf_call_iptables(layout: NodeLayout) -> Path:
    """This bridge's switch for passing bridged frames through iptables: a Service's reply from
    a pod to a pod on the same bridge never meets the host's routing, and only its conntrack
    entry can turn the reply's source back into the Service's address."""
    return Path("/sys/class/net") / layout.bridge / "bridge" / "nf_call_iptables"


def confinement_rules(layout: NodeLayout) -> list[list[str]]:
    """`ip rule add` arguments: from the bridge, only back to the bridge (this machine's own
    addresses are the `local` table's, looked up before these)."""
    bridge, subnet, first = layout.bridge, str(layout.subnet), str(RULE_PRIORITY)
    return [
        ["iif", bridge, "to", subnet, "lookup", "main", "priority", first],
        ["iif", bridge, "unreachable", "priority", str(RULE_PRIORITY + 1)],
    ]


def kube_proxy_config(layout: NodeLayout, kubeconfig: Path) -> dict[str, Any]:
    ports = layout.service_ports
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "clusterCIDR": str(layout.subnet),
        "healthzBindAddress": f"127.0.0.1:{ports.proxy_healthz}",
        "metricsBindAddress": f"127.0.0.1:{ports.proxy_metrics}",
        "nodePortAddresses": [f"{layout.gateway}/32"],
        "oomScoreAdj": 0,
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
        "conntrack": {
            "maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s", "udpTimeout": "0s", "udpStreamTimeout": "0s",
        },
    }  # fmt: skip


def kube_proxy_argv(bins: Binaries, config: Path) -> list[str]:
    return [str(bins.path("kube-proxy")), f"--config={config}", "--v=1"]


def kube_proxy_cleanup_argv(kube_proxy: str) -> list[str]:
    """Removes kube-proxy's KUBE-* chains and rules (iptables and ip6tables), but for
    LEFT_BY_CLEANUP."""
    return [kube_proxy, "--cleanup", "--v=0"]


# The filter table's chains that kube-proxy makes and `--cleanup` leaves (upstream counts them
# as the kubelet's), each with the built-in chains that jump to it.
LEFT_BY_CLEANUP = {"KUBE-FIREWALL": ("INPUT", "OUTPUT")}


def corefile(layout: NodeLayout, kubeconfig: Path) -> str:
    """Cluster names only: a pod has no route off the machine, so nothing is forwarded."""
    return "\n".join([
        f"{CLUSTER_DOMAIN}:53 {{",
        f"  bind {layout.gateway}",
        f"  ready 127.0.0.1:{layout.service_ports.dns_ready}",
        "  errors",
        f"  kubernetes {CLUSTER_DOMAIN} {{",
        f"    kubeconfig {kubeconfig}",
        "  }",
        "}",
        "",
    ])  # fmt: skip


def coredns_argv(bins: Binaries, corefile_path: Path) -> list[str]:
    return [str(bins.path("coredns")), "-conf", str(corefile_path)]


def dns_rbac() -> list[dict[str, Any]]:
    """What CoreDNS's kubernetes plugin reads (the same rules kubeadm grants it)."""
    rules = [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
         "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
         "verbs": ["list", "watch"]},
    ]  # fmt: skip
    meta = {"name": DNS_USER}
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": meta, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": DNS_USER},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                       "name": DNS_USER}]},
    ]  # fmt: skip
