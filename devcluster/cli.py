"""`spacecast dev-cluster`: the test control plane, for people.

Starts etcd, kube-apiserver and (by default) kube-controller-manager, kube-scheduler and
kwok with fake nodes; prints what to export; runs until Ctrl-C or SIGTERM, then stops
everything and removes its temp dir.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from devcluster import binaries
from devcluster.cluster import ClusterConfig, ControlPlane
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
    config = ClusterConfig(
        controller_manager=settings.cluster_controller_manager,
        scheduler=settings.cluster_scheduler,
        kwok_nodes=settings.cluster_nodes,
    )
    stop = _stop_on_signals()
    started = time.monotonic()
    with ControlPlane(config, bins) as cluster:
        _print_banner(cluster, bins, time.monotonic() - started)
        stop.wait()
        print("stopping…", file=sys.stderr)
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
    running = ", ".join(cluster.processes())
    print(
        f"# control plane up in {seconds:.1f}s: {running}\n"
        f"# apiserver {cluster.server}, work dir {cluster.workdir}\n"
        f"export KUBECONFIG={cluster.kubeconfig}\n"
        f"export PATH={bins.bin_dir}:$PATH  # kubectl, helm, etcd of the pinned version\n"
        f"# Ctrl-C stops everything and removes the work dir.",
        flush=True,
    )
