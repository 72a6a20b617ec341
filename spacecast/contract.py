"""The contract between a command and whoever runs it: exit codes and the session's summary.

A session pod speaks to its controller through four things only: its exit code, the one-line
JSON summary it writes to the termination log, its readiness probe, and while it runs, its live
facts posted as Events about its SpaceCast. The exit codes, the summary and the facts are
defined here, once; the readiness semantics are in `spacecast.session.health`. The session, the
download command, the README's tables and the controller all read this module, so none can
drift. It imports nothing but the standard library: the controller must not pull in the media
stack to read it.

Every exit code has a class, which is what a controller does about it:
- success: the work is done (the Space ended); do not run it again.
- permanent: the same input fails the same way (a bad stream key, an unknown Space); retrying
  cannot help, so report it and stop.
- transient: the outside world may change (an ingest down, a port taken, a rate limit); retry
  with backoff, up to a limit.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

# Kubernetes keeps at most 4096 bytes of a container's termination message.
TERMINATION_MESSAGE_LIMIT = 4096


class ExitClass(StrEnum):
    SUCCESS = "success"
    PERMANENT = "permanent"
    TRANSIENT = "transient"


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    UNAVAILABLE = 3
    # X and `spacecast download` (10-29).
    INVALID_SPACE = 10
    SPACE_NOT_FOUND = 11
    NO_REPLAY = 12
    NOT_STARTED = 13
    AUTH_REFUSED = 14
    FEATURES_REJECTED = 15
    RATE_LIMITED = 16
    DISK_FULL = 17
    MISSING_CHUNKS = 18
    MEDIA_UNAVAILABLE = 19
    OUTPUT_EXISTS = 20
    BAD_COOKIES = 21
    X_UNREACHABLE = 22
    TLS_UNTRUSTED = 23
    BAD_CA_FILE = 24
    WORK_DIR_BUSY = 25
    PATH_UNUSABLE = 26
    # `spacecast session` (30-39); X's refusals above apply to it too.
    PUBLISH_REJECTED = 30
    INGEST_LOST = 31
    BAD_DESTINATIONS = 32
    SESSION_FAILED = 33
    INTERRUPTED = 130


@dataclass(frozen=True)
class Exit:
    meaning: str  # the README's words
    klass: ExitClass
    commands: tuple[str, ...]  # the commands that can end with it


_ALL = ("download", "session")
_S, _P, _T = ExitClass.SUCCESS, ExitClass.PERMANENT, ExitClass.TRANSIENT
EXITS: dict[ExitCode, Exit] = {
    ExitCode.OK: Exit("done (a session: the Space ended, or SIGTERM)", _S, _ALL),
    ExitCode.FAILURE: Exit("an internal error (a bug): the only case with a traceback", _T, _ALL),
    ExitCode.USAGE: Exit("usage: bad flag, setting or output template", _P, _ALL),
    ExitCode.UNAVAILABLE: Exit(
        "a port, file or service that is needed cannot be had (the metrics port in use, the "
        "command's extra not installed)",
        _T,
        _ALL,
    ),
    ExitCode.INVALID_SPACE: Exit("not a Space URL or id", _P, _ALL),
    ExitCode.SPACE_NOT_FOUND: Exit("X knows no such Space", _P, _ALL),
    ExitCode.NO_REPLAY: Exit(
        "no replay: the Space ended without one, or was canceled", _P, ("download",)
    ),
    ExitCode.NOT_STARTED: Exit("the Space has not started (use `--wait`)", _T, ("download",)),
    ExitCode.AUTH_REFUSED: Exit(
        "X refused the credentials (403 code 353, 401, guest access off)", _P, _ALL
    ),
    ExitCode.FEATURES_REJECTED: Exit(
        "X rejected every known query (400 code 336: feature flags)", _P, _ALL
    ),
    ExitCode.RATE_LIMITED: Exit(
        "rate-limited (429) past the rate-limit budget (`--rate-limit-budget-s`)", _T, _ALL
    ),
    ExitCode.DISK_FULL: Exit("disk full", _T, ("download",)),
    ExitCode.MISSING_CHUNKS: Exit("chunks missing, with `--gaps fail`", _P, ("download",)),
    ExitCode.MEDIA_UNAVAILABLE: Exit(
        "playlists or chunks still failing after the retries (e.g. the final list never appeared)",
        _T,
        ("download",),
    ),
    ExitCode.OUTPUT_EXISTS: Exit("the output exists (use `--overwrite`)", _P, ("download",)),
    ExitCode.BAD_COOKIES: Exit(
        "the cookie file cannot be read, or lacks `auth_token`/`ct0`", _P, _ALL
    ),
    ExitCode.X_UNREACHABLE: Exit(
        "X's host cannot be reached (connection refused or timed out, no such host)", _T, _ALL
    ),
    ExitCode.TLS_UNTRUSTED: Exit(
        "X's host's TLS certificate does not verify (a private CA: `--x-ca-file`)", _P, _ALL
    ),
    ExitCode.BAD_CA_FILE: Exit(
        "the `--x-ca-file` cannot be read or holds no PEM certificate", _P, _ALL
    ),
    ExitCode.WORK_DIR_BUSY: Exit(
        "another download of the same Space holds its work directory", _T, ("download",)
    ),
    ExitCode.PATH_UNUSABLE: Exit(
        "the output or the work directory cannot be written there (read-only, not a "
        "directory, not a regular file)",
        _P,
        ("download",),
    ),
    ExitCode.PUBLISH_REJECTED: Exit(
        "every RTMP destination refused the publish on the first connect (a bad stream key)",
        _P,
        ("session",),
    ),
    ExitCode.INGEST_LOST: Exit(
        "every destination stayed unreachable past `--reconnect-window-seconds`", _T, ("session",)
    ),
    ExitCode.BAD_DESTINATIONS: Exit(
        "the destinations file is missing, empty, or has a line that is not an RTMP(S) URL",
        _P,
        ("session",),
    ),
    ExitCode.SESSION_FAILED: Exit(
        "a process the session needs could not start (the display taken, no browser)",
        _T,
        ("session",),
    ),
    ExitCode.INTERRUPTED: Exit("interrupted (a download: run again to resume)", _T, ("download",)),
}


def exit_class(code: int) -> ExitClass:
    """What to do about an exit code. Codes outside the table (a signal's 128+n, an OOM kill's
    137) are the outside world's doing: transient."""
    try:
        return EXITS[ExitCode(code)].klass
    except ValueError:
        return ExitClass.TRANSIENT


def exit_table(command: str) -> list[tuple[int, str, str]]:
    """(code, meaning, class) of every exit `command` can end with, for help texts and docs."""
    return [(int(c), e.meaning, e.klass.value) for c, e in EXITS.items() if command in e.commands]


def help_epilog(command: str) -> str:
    """The exit codes of `command` for its --help (shown as is: RawDescriptionHelpFormatter)."""
    lines = ["exit codes [class]:"]
    for code, meaning, klass in exit_table(command):
        lines += textwrap.wrap(
            f"{code:>3}  {meaning} [{klass}]", 88, initial_indent="  ", subsequent_indent=" " * 7
        )
    return "\n".join(lines)


def markdown_table(command: str) -> str:
    """The exit codes of `command` as the README's table (tests/spacecast/test_contract.py
    checks that the README holds exactly this)."""
    rows = [f"| {code} | {meaning} | {klass} |" for code, meaning, klass in exit_table(command)]
    return "\n".join(["| exit | meaning | class |", "|---|---|---|", *rows])


# The session's summary ------------------------------------------------------------------------

LISTED_DESTINATIONS = 16  # beyond this many, destinations are counted by state, not listed
MESSAGE_LIMIT = 1024  # characters of the failure's message kept in the summary
SPACE_LIMIT = 200  # characters of the Space as given (a hostile value could be anything)


@dataclass
class Summary:
    """The one-line JSON a session writes to its termination log on every exit.

    Every field is always present. `destinations` lists the first LISTED_DESTINATIONS (index,
    state, reconnects); `destinations_total` and `destinations_by_state` count them all, so the
    line stays under TERMINATION_MESSAGE_LIMIT bytes for any number of destinations.
    """

    space_id: str
    reason: str  # space_ended | terminated | failed
    exit_code: int
    exit_class: str = ""
    message: str = ""
    duration_seconds: float = 0.0
    bytes_sent: int = 0
    reconnects: int = 0
    rescue_activations: int = 0
    audio_source: str = "none"
    destinations_total: int = 0
    destinations_by_state: dict[str, int] = field(default_factory=dict)
    destinations: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.exit_class = exit_class(self.exit_code).value
        self.space_id = self.space_id[:SPACE_LIMIT]
        self.message = self.message[:MESSAGE_LIMIT]

    @classmethod
    def failure(cls, space: str, code: int, message: str) -> Summary:
        """The summary of a session that failed before it cast anything."""
        return cls(space_id=space, reason="failed", exit_code=int(code), message=message)

    def line(self) -> str:
        """The summary as one line of JSON, always under the termination message limit."""
        data = asdict(self)
        text = json.dumps(data, separators=(",", ":"))
        while len(text.encode()) >= TERMINATION_MESSAGE_LIMIT and data["destinations"]:
            data["destinations"] = data["destinations"][: len(data["destinations"]) // 2]
            text = json.dumps(data, separators=(",", ":"))
        if len(text.encode()) >= TERMINATION_MESSAGE_LIMIT:  # only hostile text gets here
            data["message"], data["space_id"] = data["message"][:256], data["space_id"][:64]
            data["destinations_by_state"] = {
                k[:32]: v for k, v in list(data["destinations_by_state"].items())[:8]
            }
            text = json.dumps(data, separators=(",", ":"))
        assert len(text.encode()) < TERMINATION_MESSAGE_LIMIT, "the bounds above are wrong"
        return text

    @classmethod
    def parse(cls, text: str) -> Summary | None:
        """A summary read back (the controller's side); None when it is not one."""
        try:
            data = json.loads(text.strip().splitlines()[-1])
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError, IndexError, AttributeError):
            return None


def summarize_destinations(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Summary fields for destinations given as {"index", "state", "reconnects"} rows."""
    return {
        "destinations_total": len(rows),
        "destinations_by_state": dict(Counter(str(r["state"]) for r in rows)),
        "destinations": rows[:LISTED_DESTINATIONS],
    }


# The session's live facts ---------------------------------------------------------------------

REPORTER = "spacecast-session"  # the Events' reportingComponent (and source.component)
_FACT = "spacecast.dev/"  # the SpaceCast API's group (tests/test_contract.py holds them equal)
AUDIO_SOURCE_KEY = _FACT + "audio-source"
SILENT_KEY = _FACT + "silent"
SEQ_KEY = _FACT + "seq"
AUDIO_SOURCES = ("browser", "rescue")


@dataclass(frozen=True)
class Facts:
    """What a running session says about itself, as Events regarding its SpaceCast (see
    `spacecast.session.report`): where its audio comes from, and whether it is silent.

    Every such Event carries all the facts in its annotations with a sequence number, so the
    newest Event of the current pod alone is the whole state: a lost or expired Event loses
    nothing that a later one does not restate. Its reason and message are for people.
    """

    audio_source: str  # one of AUDIO_SOURCES
    silent: bool

    def annotations(self, seq: int) -> dict[str, str]:
        return {
            AUDIO_SOURCE_KEY: self.audio_source,
            SILENT_KEY: "true" if self.silent else "false",
            SEQ_KEY: str(seq),
        }

    @classmethod
    def read(cls, annotations: dict[str, str]) -> tuple[int, Facts] | None:
        """(sequence, facts) from an Event's annotations; None when they are not a report
        (anyone allowed to create Events can post one: take nothing unchecked)."""
        source, silent = annotations.get(AUDIO_SOURCE_KEY), annotations.get(SILENT_KEY)
        seq = annotations.get(SEQ_KEY, "")
        number = seq.isascii() and seq.isdigit() and len(seq) <= 18  # int() of 5000 digits raises
        if source not in AUDIO_SOURCES or silent not in ("true", "false") or not number:
            return None
        return int(seq), cls(str(source), silent == "true")


def report_event(before: Facts | None, now: Facts) -> tuple[str, str, str]:
    """(type, reason, message) of the Event that reports `now` after `before`. When several
    facts changed at once the reason names the weightiest; the annotations carry them all."""
    if before is None:
        return "Normal", "Casting", f"media is flowing; the audio comes from the {now.audio_source}"
    if now.audio_source != before.audio_source:
        if now.audio_source == "rescue":
            return (
                "Normal",
                "Rescued",
                (
                    "the browser's audio stayed silent: the audio now comes from the Space's HLS "
                    "stream"
                ),
            )
        return "Normal", "AudioSource", f"the audio now comes from the {now.audio_source}"
    if now.silent:
        return "Warning", "Silent", "the cast's audio has been below the silence threshold"
    return "Normal", "Audible", "the cast's audio is back above the silence threshold"
