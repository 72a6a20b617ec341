"""`spacecast session`: run one live cast in the foreground (what a SpaceCast's pod runs).

Whatever ends it, from a mistyped flag to the Space's end, it writes the one-line JSON summary
(`spacecast.contract.Summary`) to the termination log and exits with a code from the contract's
table; a failure is also one line on stderr with its code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.contract import Summary, help_epilog
from spacecast.errors import ExitCode, UserError, one_line
from spacecast.logs import configure_logging, get_logger
from spacecast.session.inputs import check_ca_file, load_destinations
from spacecast.session.settings import SessionSettings
from spacecast.session.supervisor import Session
from spacecast.session.xclient import SpaceWatch
from spacecast.settings import LogSettings, XSettings, env_name
from spacecast.x.ids import parse_space_id

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
        epilog=help_epilog("session")
        + "\nEvery exit writes the JSON summary to --termination-log.",
    )
    add_settings_arguments(parser, SessionSettings)
    add_settings_arguments(parser, XSettings)
    parser.set_defaults(handler=run)
    parser.on_error = _usage_error


def _flag_value(argv: Sequence[str], flag: str) -> str | None:
    """The value of `--flag V` or `--flag=V` in argv, the last one winning (as argparse)."""
    value = None
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.partition("=")[2]
    return value


def space_id(given: str) -> str:
    """The Space's id when `given` names one, so every summary says it the same way."""
    try:
        return parse_space_id(given)
    except UserError:
        return given


def summary_target(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[str, str]:
    """(termination log path, Space) as given, for a failure before the settings could be
    read: the flag, else the environment, else the setting's default."""
    fields = SessionSettings.model_fields
    path = _flag_value(argv, "--termination-log") or environ.get(
        env_name(SessionSettings, "termination_log")
    )
    space = _flag_value(argv, "--space") or environ.get(env_name(SessionSettings, "space")) or ""
    return path or str(fields["termination_log"].default), space_id(space)


def write_termination_message(path: str, summary: Summary) -> None:
    # Not a file we own: the kubelet's (or nowhere, run by hand); failing to write it is no
    # reason to fail differently, but it is said.
    try:
        Path(path).write_text(summary.line() + "\n")
    except OSError as exc:
        log.warning("summary not written", path=path, error=exc.strerror or type(exc).__name__)


def _usage_error(message: str, argv: list[str]) -> None:
    path, space = summary_target(argv, os.environ)
    write_termination_message(path, Summary.failure(space, ExitCode.USAGE, message))


async def _main(settings: SessionSettings, x: XSettings) -> Summary:
    if not settings.space:
        raise UserError("which Space? give --space (an x.com Space URL or id)", ExitCode.USAGE)
    watch = SpaceWatch(settings.space, x, settings.cookies_file, settings.state_poll_seconds)
    destinations = load_destinations(settings.destinations_file)
    check_ca_file(settings.rtmps_ca_file)
    session = Session(settings, x)
    session.install_signal_handlers()
    return await session.run(destinations, watch)


class Terminated(BaseException):
    """SIGTERM before the session's own handlers are in place."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def _cast(args: argparse.Namespace) -> tuple[str, Summary]:
    path, space = summary_target([], os.environ)
    path, space = args.termination_log or path, space_id(args.space or "") or space
    try:
        configure_logging(settings_from_args(LogSettings, args))
        settings = settings_from_args(SessionSettings, args)
        path = settings.termination_log
        x = settings_from_args(XSettings, args)
        return path, asyncio.run(_main(settings, x))
    except UserError as exc:
        return path, Summary.failure(space, exc.code, exc.message)
    except (Terminated, KeyboardInterrupt):  # stopped before it began: nothing lost
        return path, Summary(space_id=space, reason="terminated", exit_code=ExitCode.OK)
    except Exception as exc:  # a bug: its traceback in the logs (which redact), and a summary
        log.exception("session crashed before it started")
        return path, Summary.failure(
            space, ExitCode.FAILURE, f"internal error: {type(exc).__name__}"
        )


def run(args: argparse.Namespace) -> int:
    # Until the settings are read: logs on stderr, and SIGTERM still ends with a summary.
    configure_logging(LogSettings.model_construct(log_level="info", log_format="auto"))
    signal.signal(signal.SIGTERM, _terminated)
    path, summary = _cast(args)
    write_termination_message(path, summary)
    log.info("session summary", **summary.__dict__)
    if summary.exit_code != ExitCode.OK:
        print(
            f"spacecast session: error: {one_line(summary.message)} (exit {summary.exit_code}, "
            f"{summary.exit_class})",
            file=sys.stderr,
            flush=True,
        )
    return summary.exit_code
