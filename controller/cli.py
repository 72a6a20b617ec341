"""`spacecast controller`: run the SpaceCast controller, or print its CRD (`crd`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.errors import ExitCode, UserError
from spacecast.logs import configure_logging, get_logger
from spacecast.settings import LogSettings

log = get_logger("controller")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "controller",
        help="watch SpaceCasts and run one session pod per cast",
        description="Watch SpaceCast resources and run one `spacecast session` pod per cast; "
        "report each cast's phase, conditions and last exit in its status. `spacecast "
        "controller crd` prints the CRD instead.",
    )
    parser.add_argument("action", nargs="?", choices=["run", "crd"], default="run")
    from controller.settings import ControllerSettings  # pydantic only, no client yet

    add_settings_arguments(parser, ControllerSettings)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "crd":
        from controller import crd

        sys.stdout.write(crd.render())
        return ExitCode.OK
    from controller.settings import ControllerSettings

    configure_logging(settings_from_args(LogSettings, args))
    settings = settings_from_args(ControllerSettings, args)
    return _serve(settings)


def _serve(settings: Any) -> int:
    from kubernetes import client, config

    from controller.kube import Kube
    from controller.run import Controller, connections

    cfg = client.Configuration()
    try:
        if settings.kubeconfig:
            config.load_kube_config(settings.kubeconfig, client_configuration=cfg)  # type: ignore[no-untyped-call]
        else:
            try:
                config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError) as exc:
        raise UserError(f"no usable kubeconfig: {exc}", ExitCode.USAGE) from None
    cfg.connection_pool_maxsize = connections(settings)  # none waits for, or opens, another
    api = client.ApiClient(cfg)
    controller = Controller(Kube(api), settings)
    try:
        port = controller.serve()
    except OSError as exc:
        raise UserError(
            f"cannot serve on {settings.metrics_bind}:{settings.metrics_port}: {exc.strerror}",
            ExitCode.UNAVAILABLE,
        ) from None
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    controller.start()
    log.info("controller running", port=port, namespace=settings.namespace or "(all)")
    done.wait()
    controller.shutdown()
    log.info("controller stopped")
    return ExitCode.OK
