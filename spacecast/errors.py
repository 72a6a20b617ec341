"""User-facing failures: one line on stderr, one distinct exit code each.

Every command raises `UserError` for a mistake the user can fix (bad flag, unknown Space, refused
cookies); `spacecast.cli.main` turns it into a single line and the code below, never a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # an unexpected internal error (a bug): the only case that prints a traceback
    USAGE = 2  # bad arguments or settings, as argparse does
    UNAVAILABLE = 3  # a port, file or service we need cannot be had
    INTERRUPTED = 130


class UserError(Exception):
    """A failure caused by input or by the outside world, reported as one line."""

    def __init__(self, message: str, code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = int(code)
