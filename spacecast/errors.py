"""User-facing failures: one line on stderr, one distinct exit code each.

Every command raises `UserError` for a mistake the user can fix (bad flag, unknown Space, refused
cookies) or a failure of the outside world; `spacecast.cli.main` turns it into a single line and
its code, never a traceback. The codes, their meanings and their classes are defined in
`spacecast.contract`.
"""

from __future__ import annotations

from spacecast.contract import ExitCode

__all__ = ["ExitCode", "UserError"]


class UserError(Exception):
    """A failure caused by input or by the outside world, reported as one line."""

    def __init__(self, message: str, code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = int(code)
