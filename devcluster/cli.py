"""`spacecast dev-cluster`: the test control plane, for people.

Starts etcd, kube-apiserver and (by default) kube-controller-manager, kube-scheduler and
kwok with fake nodes, and with --real-node a real node whose pods run; prints what to export;
runs until Ctrl-C or SIGTERM, then stops everything, puts the host back as it was (the node's
bridge, mounts and cgroups) and removes its temp dir.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from devcluster import binaries, node_config
from devcluster.cluster import ClusterConfig, ControlPlane
from devcluster.node import NodeUnavailable
from devcluster.node_config import NODE_NAME
from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.errors import ExitCode, UserError
from spacecast.logs import configure_logging
from spacecast.settings import DevClusterSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev-cluster",
        help="Run a local Kubernetes control plane (etcd, apiserver, kwok nodes) until Ctrl-C.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings_arguments(parser, DevClusterSettings)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configure_logging()
    settings = settings_from_args(DevClusterSettings, args)
    try:
        bins = binaries.build(settings) if settings.cluster_build else binaries.locate(settings)
    except binaries.BinariesMissing as exc:
        raise UserError(f"{exc} (or pass --cluster-build)", ExitCode.UNAVAILABLE) from None
    real = settings.real_node or settings.real_node_services  # services need a node for them
    config = ClusterConfig(
        controller_manager=settings.cluster_controller_manager or real,
        scheduler=settings.cluster_scheduler or real,
        # With a real node, fake ones only when asked for: pods should land where they run.
        kwok_nodes=settings.cluster_nodes
        if "cluster_nodes" in settings.model_fields_set or not real
        else 0,
        real_node=real,
        services=settings.real_node_services,
    )
    stop = _stop_on_signals()
    started = time.monotonic()
    try:
        with ControlPlane(config, bins) as cluster:
            _print_banner(cluster, bins, time.monotonic() - started)
            stop.wait()
            print("stopping…", file=sys.stderr)
    except NodeUnavailable as exc:  # planning it, or starting it (another has the services)
        raise UserError(str(exc), ExitCode.UNAVAILABLE) from None
    return 0


def _stop_on_signals() -> threading.Event:
    # Turn Ctrl-C and SIGTERM into an event, so teardown runs once in the main flow rather
    # than from inside a signal handler halfway through something else.
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _print_banner(cluster: ControlPlane, bins: binaries.Binaries, seconds: float) -> None:
    node = ["containerd", "kubelet"] if cluster.node else []
    if cluster.node and cluster.node.layout.services:
        node += ["kube-proxy", "coredns"]
    running = ", ".join([*cluster.processes(), *node])
    lines = [
        f"# control plane up in {seconds:.1f}s: {running}",
        f"# apiserver {cluster.server}, work dir {cluster.workdir}",
    ]
    if cluster.node:
        ctr = " ".join(node_config.ctr_argv(cluster.node.layout, bins))
        lines += [
            f"# real node {NODE_NAME}: its pods reach this machine at {cluster.node.gateway}",
            f"# images for its pods (imagePullPolicy: Never): {ctr} images import ARCHIVE",
        ]
        if cluster.node.layout.services:
            lines.append(f"# Services and cluster DNS on; for `helm test`: "
                         f"--set tests.image={cluster.node.kubectl_image}")  # fmt: skip
    lines += [
        f"export KUBECONFIG={cluster.kubeconfig}",
        f"export PATH={bins.bin_dir}:$PATH  # kubectl, helm, etcd of the pinned version",
        "# Ctrl-C stops everything and removes the work dir.",
    ]
    print("\n".join(lines), flush=True)
