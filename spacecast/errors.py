"""User-facing failures: one line on stderr, one distinct exit code each.

Every command raises `UserError` for a mistake the user can fix (bad flag, unknown Space, refused
cookies) or a failure of the outside world; `spacecast.cli.main` turns it into a single line and
its code, never a traceback. The codes, their meanings and their classes are defined in
`spacecast.contract`.
"""

from __future__ import annotations

import re

from spacecast.contract import ExitCode

__all__ = ["ExitCode", "UserError", "one_line"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def one_line(text: str, limit: int = 1000) -> str:
    """`text` safe for one line of a terminal or log: control characters escaped, cut short."""
    escaped = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


class UserError(Exception):
    """A failure caused by input or by the outside world, reported as one line."""

    def __init__(self, message: str, code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = int(code)
