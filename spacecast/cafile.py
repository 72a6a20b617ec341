"""A CA file given by the user (`--x-ca-file`, `--rtmps-ca-file`), read once and checked.

Read here, bounded and only if it is a regular file, rather than by OpenSSL: a device or a FIFO
would be read forever, and OpenSSL's errors name neither the file nor what to do.
"""

from __future__ import annotations

import os
import ssl
import stat

MAX_BYTES = 16 << 20  # the system's whole bundle is about 200 KB


class CaFileError(ValueError):
    """Why the file cannot serve (its text is the reason alone; callers name the flag)."""


def read(path: str) -> str:
    """The PEM text of `path`, checked to hold at least one certificate."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CaFileError("not a regular file")
            raw = handle.read(MAX_BYTES + 1)
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
