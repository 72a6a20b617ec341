"""`spacecast download SPACE`: the command line around `spacecast.download.run`."""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvloop

from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.contract import ExitCode, help_epilog
from spacecast.download.run import download
from spacecast.download.settings import DownloadSettings
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


def run(args: argparse.Namespace) -> int:
    configure_logging(LogSettings())
    settings = settings_from_args(DownloadSettings, args)
    x = settings_from_args(XSettings, args)
    # uvloop: this command is CPU-bound on HTTP, and libuv's loop saves a fifth of it.
    summary = uvloop.run(download(args.space, settings, x))
    if settings.json_summary:
        print(json.dumps(summary.to_json(), indent=None))
    else:
        print(summary.output)
    return ExitCode.OK
