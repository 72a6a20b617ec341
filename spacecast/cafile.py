"""A CA file given by the user (`--x-ca-file`, `--rtmps-ca-file`), read once and checked;
and `read_regular`, which the cookie file shares.

Read here, bounded and only if it is a regular file, rather than by OpenSSL: a device would be
read forever, a FIFO waited on forever, and OpenSSL's errors name neither the file nor what to
do.
"""

from __future__ import annotations

import os
import ssl
import stat

MAX_BYTES = 16 << 20  # the system's whole bundle is about 200 KB


class NotRegular(ValueError):
    """A device, FIFO, socket or directory where a file was wanted."""


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most `limit` bytes of `path`, which must be a regular file. Opened without blocking,
    then checked: a FIFO's open would otherwise wait for a writer forever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(str(path))
        return handle.read(limit)


class CaFileError(ValueError):
    """Why the file cannot serve (its text is the reason alone; callers name the flag)."""


def read(path: str) -> str:
    """The PEM text of `path`, checked to hold at least one certificate."""
    try:
        raw = read_regular(path, MAX_BYTES + 1)
    except NotRegular:
        raise CaFileError("not a regular file") from None
    except OSError as exc:
        raise CaFileError((exc.strerror or type(exc).__name__).lower()) from None
    if len(raw) > MAX_BYTES:
        raise CaFileError(f"over {MAX_BYTES >> 20} MiB")
    text = raw.decode("ascii", errors="replace")
    try:
        ssl.create_default_context().load_verify_locations(cadata=text)
    except (ssl.SSLError, ValueError):
        raise CaFileError("no PEM certificate in it") from None
    return text
