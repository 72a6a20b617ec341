"""Reading the session's secret inputs: the destinations file and the cookies file. Errors name
the file and the line, never the secret itself."""

from __future__ import annotations

from pathlib import Path

from spacecast.errors import ExitCode, UserError
from spacecast.session.rtmp import RtmpUrl


def load_destinations(path: str) -> list[RtmpUrl]:
    if not path:
        raise UserError(
            "no destinations: give --destinations-file (one rtmp(s):// URL per line)",
            ExitCode.BAD_DESTINATIONS,
        )
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UserError(
            f"destinations file {path}: {exc.strerror}", ExitCode.BAD_DESTINATIONS
        ) from None
    urls = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            urls.append(RtmpUrl.parse(line))
        except ValueError as exc:
            raise UserError(
                f"destinations file {path}, line {number}: {exc}", ExitCode.BAD_DESTINATIONS
            ) from None
    if not urls:
        raise UserError(f"destinations file {path} lists no URL", ExitCode.BAD_DESTINATIONS)
    return urls
