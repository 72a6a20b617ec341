"""`spacecast session`: run one live cast in the foreground (what a SpaceCast's pod runs)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.errors import ExitCode, UserError
from spacecast.logs import configure_logging, get_logger
from spacecast.session.inputs import load_destinations
from spacecast.session.settings import SessionSettings
from spacecast.session.supervisor import Session, Summary, write_termination_message
from spacecast.session.xclient import SpaceWatch
from spacecast.settings import XSettings

log = get_logger("session")

DESCRIPTION = """\
Join a live X Space in Chromium on a virtual display, push it over RTMP(S) to every destination
in the destinations file, rescue camera Spaces' audio through HLS, and export health on
/metrics, /healthz and /readyz. Ends with exit 0 and a JSON summary when the Space ends or on
SIGTERM. Stream keys and cookies are read from files, never from flags."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "session",
        help="run one live cast: join a Space, push RTMP, export health",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings_arguments(parser, SessionSettings)
    add_settings_arguments(parser, XSettings)
    parser.set_defaults(handler=run)


async def _main(settings: SessionSettings, x: XSettings) -> Summary:
    if not settings.space:
        raise UserError("which Space? give --space (an x.com Space URL or id)", ExitCode.USAGE)
    watch = SpaceWatch(settings.space, x, settings.cookies_file, settings.state_poll_seconds)
    destinations = load_destinations(settings.destinations_file)
    session = Session(settings, x)
    session.install_signal_handlers()
    return await session.run(destinations, watch)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(SessionSettings, args)
    x = settings_from_args(XSettings, args)
    configure_logging()
    summary = asyncio.run(_main(settings, x))
    write_termination_message(settings.termination_log, summary)
    log.info("session summary", **summary.__dict__)
    if summary.exit_code != ExitCode.OK:
        print(f"spacecast session: error: {summary.message}", file=sys.stderr, flush=True)
    return summary.exit_code
