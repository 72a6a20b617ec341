"""`spacecast simulate`: serve simulated X Spaces until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvloop

from simulator.server import Simulator, serve_forever
from simulator.settings import SimulatorSettings
from spacecast.cli import add_settings_arguments, settings_from_args
from spacecast.errors import ExitCode, UserError
from spacecast.logs import configure_logging

DESCRIPTION = """\
Serve a faithful local copy of X's Space endpoints and media: the GraphQL AudioSpaceById and
live_video_stream/status APIs (guest tokens or cookies), live, master and chunk-list playlists,
byte-faithful AAC chunks with ID3 tags, camera Spaces with three renditions, and the Space page
a browser joins. It prints the Spaces it serves; point spacecast at it with
SPACECAST_X_BASE_URL, SPACECAST_X_API_BASE_URL and SPACECAST_X_CA_FILE."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="serve simulated X Spaces (API, playlists, chunks, pages)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings_arguments(parser, SimulatorSettings)
    parser.set_defaults(handler=run)


def print_banner(simulator: Simulator) -> None:
    lines = [
        f"spacecast simulator: {simulator.https_url} (HTTP: {simulator.http_url})",
        f"CA file: {simulator.ca_file}",
        f"export SPACECAST_X_BASE_URL={simulator.https_url} "
        f"SPACECAST_X_API_BASE_URL={simulator.https_url} SPACECAST_X_CA_FILE={simulator.ca_file}",
        "",
    ]
    if simulator.ingest:
        lines += [f"RTMP ingest: {simulator.ingest.url('<stream key>')}", ""]
    for space in simulator.spaces():
        lines += [
            f"{space['kind']} Space {space['id']} ({space['state']}): {space['title']}",
            f"  page:   {space['page']}",
            f"  master: {space['master']}",
        ]
    print("\n".join(lines), flush=True)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(SimulatorSettings, args)
    configure_logging()
    try:
        uvloop.run(serve_forever(settings, print_banner))
    except OSError as exc:
        raise UserError(f"cannot listen: {exc.strerror or exc}", ExitCode.UNAVAILABLE) from None
    except RuntimeError as exc:  # the RTMP ingest could not start
        raise UserError(str(exc), ExitCode.UNAVAILABLE) from None
    except ValueError as exc:  # the lever token file
        raise UserError(str(exc), ExitCode.USAGE) from None
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C or SIGTERM: a clean stop
        pass
    return ExitCode.OK
