"""`spacecast download SPACE`: the command line around `spacecast.download.run`."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import uvloop

from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.contract import ExitCode, help_epilog
from spacecast.download.run import Summary, download
from spacecast.download.settings import DownloadSettings
from spacecast.errors import UserError, one_line
from spacecast.logs import configure_logging
from spacecast.settings import LogSettings, XSettings

EPILOG = help_epilog("download") + "\nRe-running resumes from the work directory."


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "download",
        help="Record an ended or live Space to an audio file.",
        description="Record an X Space (ended with a replay, or live from its start) to m4a "
        "or raw AAC: chunks fetched concurrently, tags stripped, joined by sequence number.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("space", metavar="SPACE", help="Space URL (x.com or twitter.com) or id.")
    parser.add_argument("-o", dest="output", metavar="PATH_OR_TEMPLATE", help="See --output.")
    parser.add_argument("--json", dest="json_summary", action="store_true", default=None,
                        help="Print a JSON summary on stdout.")  # fmt: skip
    add_settings_arguments(parser, DownloadSettings)
    add_settings_arguments(parser, XSettings)
    parser.set_defaults(handler=run)


SPACE_ID = re.compile(r"(?<![0-9A-Za-z])1[0-9A-Za-z]{12}(?![0-9A-Za-z])")  # in an id or URL


class Terminated(UserError):
    def __init__(self) -> None:
        super().__init__(
            "terminated (SIGTERM); the chunks fetched so far are kept: run again to resume",
            ExitCode.INTERRUPTED,
        )


async def _until_sigterm(work: Coroutine[Any, Any, Summary]) -> Summary:
    """`work`, cancelled by SIGTERM as Ctrl-C cancels it: the same cleanup (the `.part` file
    goes, the chunks stay), then one line and exit 130. Ctrl-C stays a KeyboardInterrupt (the
    loop's runner cancels this task for it too: the flag tells the two apart)."""
    task = asyncio.current_task()
    assert task is not None
    terminated = asyncio.Event()

    def on_sigterm() -> None:
        terminated.set()
        task.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await work
    except asyncio.CancelledError:
        if terminated.is_set():
            raise Terminated() from None
        raise
    except Exception:
        # An interrupt was pending and the work failed on its way out (ffmpeg got the Ctrl-C
        # too, and a write to it failed before the cancellation landed): the interrupt is what
        # the user must see, and what the exit code says.
        if terminated.is_set():
            raise Terminated() from None
        if task.cancelling():
            raise KeyboardInterrupt from None
        raise


def failure_json(space: str, settings: DownloadSettings | None, exc: UserError) -> str:
    """The summary line of a failed run: enough for a script to act on it."""
    space_id = next(iter(SPACE_ID.findall(space)), None)
    work_dir = Path(settings.work_dir).expanduser() / space_id if settings and space_id else None
    work_dir = work_dir if work_dir and work_dir.is_dir() else None  # only one that holds chunks
    return json.dumps(
        {
            "space_id": space_id,
            "exit_code": exc.code,
            "error": one_line(exc.message),
            "gaps": getattr(exc, "gaps", []),
            "work_dir": str(work_dir) if work_dir else None,
        }
    )


def run(args: argparse.Namespace) -> int:
    configure_logging(LogSettings())
    settings: DownloadSettings | None = None
    try:
        settings = settings_from_args(DownloadSettings, args)
        x = settings_from_args(XSettings, args)
        # uvloop: this command is CPU-bound on HTTP, and libuv's loop saves a fifth of it.
        summary = uvloop.run(_until_sigterm(download(args.space, settings, x)))
    except UserError as exc:
        if settings.json_summary if settings else args.json_summary:
            print(failure_json(args.space, settings, exc))
        raise
    if settings.json_summary:
        print(json.dumps(summary.to_json(), indent=None))
    else:
        print(summary.output)
    return ExitCode.OK
