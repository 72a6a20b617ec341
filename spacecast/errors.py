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
    # X and `spacecast download` (10-29).
    INVALID_SPACE = 10  # not a Space URL or 13-character Space id
    SPACE_NOT_FOUND = 11  # X knows no such Space
    NO_REPLAY = 12  # the Space ended (or was canceled) without a replay
    NOT_STARTED = 13  # the Space has not started and --wait was not given
    AUTH_REFUSED = 14  # X refused the credentials (403 code 353, 401, guest access off)
    FEATURES_REJECTED = 15  # X rejected every known query id / feature set (400 code 336)
    RATE_LIMITED = 16  # still rate-limited (429) when the retry budget ran out
    DISK_FULL = 17  # no space left on the device of the work directory or the output
    MISSING_CHUNKS = 18  # chunks are missing and --gaps fail was asked for
    MEDIA_UNAVAILABLE = 19  # playlists or chunks still failing when the retries ran out
    OUTPUT_EXISTS = 20  # the output file exists and --overwrite was not given
    BAD_COOKIES = 21  # the cookie file cannot be read or lacks auth_token / ct0
    # `spacecast session` (30-39); X's refusals above (11 not found, 14 cookies refused) apply too.
    PUBLISH_REJECTED = 30  # every RTMP destination refused the publish on the first connect
    INGEST_LOST = 31  # every destination stayed unreachable past the reconnect window
    BAD_DESTINATIONS = 32  # the destinations file is missing, empty or has a non-RTMP line
    SESSION_FAILED = 33  # a process the session needs could not start (display in use, ...)
    INTERRUPTED = 130


class UserError(Exception):
    """A failure caused by input or by the outside world, reported as one line."""

    def __init__(self, message: str, code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = int(code)
