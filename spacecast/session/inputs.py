"""Reading the session's destinations (the cookies are read by `spacecast.x.auth`). Errors name
the file and the line, never the secret itself.

The destinations are one rtmp(s):// URL per line, in one file or in a directory of files read
in the order of their names (numbers by value): a SpaceCast's pod gets one file per
destination, projected from its Secret as `destinations/0`, `destinations/1`, ...
"""

from __future__ import annotations

from pathlib import Path

from spacecast import cafile
from spacecast.errors import ExitCode, UserError
from spacecast.session.rtmp import RtmpUrl


def _bad(message: str) -> UserError:
    return UserError(message, ExitCode.BAD_DESTINATIONS)


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]

    def order(p: Path) -> tuple[int, int, str]:
        return (0, int(p.name), "") if p.name.isdigit() else (1, 0, p.name)

    # Skip the projected volume's own ..data links and dot-files.
    return sorted((p for p in path.iterdir() if not p.name.startswith(".")), key=order)


def _read(path: Path) -> list[str]:
    try:
        return path.read_bytes().decode("utf-8").splitlines()
    except OSError as exc:
        raise _bad(f"destinations file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # its text is a secret: say where, never what
        raise _bad(f"destinations file {path}: not UTF-8 text (byte {exc.start})") from None


def load_destinations(path: str) -> list[RtmpUrl]:
    if not path:
        raise _bad("no destinations: give --destinations-file (one rtmp(s):// URL per line)")
    urls = []
    for file in _files(Path(path)):
        for number, line in enumerate(_read(file), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                urls.append(RtmpUrl.parse(line))
            except ValueError as exc:
                raise _bad(f"destinations file {file}, line {number}: {exc}") from None
    if not urls:
        raise _bad(f"destinations file {path} lists no URL")
    return urls


def check_ca_file(path: str | None) -> None:
    """The --rtmps-ca-file, if given, must be a readable PEM CA: found now, in one line, not
    as a destination that retries until its window ends."""
    if not path:
        return
    try:
        cafile.read(path)
    except cafile.CaFileError as exc:
        raise _bad(f"--rtmps-ca-file {path}: {exc}") from None
