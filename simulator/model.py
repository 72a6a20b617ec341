"""Spaces and their state machine: NotStarted -> Running -> Ended (replay or not).

A Space is a schedule on the simulator's clock plus what X reports about it. State is derived
from the clock, never stored, so a faster clock or a test's `advance` moves every Space at once.
"""

from __future__ import annotations

import enum
import hashlib
import math
import random
import string
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from spacecast.errors import UserError

ALPHANUM = string.ascii_letters + string.digits
SPACE_ID_PATTERN = r"^1[0-9A-Za-z]{12}$"


# audio and camera Spaces as on X; avsync is a test pattern for measuring a cast's A/V offset:
# an audio Space whose page flashes white and beeps together once a second.
SpaceKind = Literal["audio", "camera", "avsync"]


class SpaceState(enum.StrEnum):
    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    ENDED = "Ended"


class SpaceSpec(BaseModel):
    """One `--space` flag: kind=audio,start=-120,duration=3600,replay=yes,..."""

    kind: SpaceKind = "audio"
    id: str | None = Field(None, pattern=SPACE_ID_PATTERN)
    start: float = -120.0
    duration: float = 3600.0
    replay: bool = True
    title: str = "Simulated Space"
    host: str = Field("sim_host", pattern=r"^[A-Za-z0-9_]{1,15}$")

    @field_validator("replay", mode="before")
    @classmethod
    def _yes_no(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() in {"yes", "no"}:
            return value.lower() == "yes"
        return value

    @classmethod
    def parse(cls, text: str) -> SpaceSpec:
        pairs = [item.partition("=") for item in text.split(",") if item.strip()]
        bad = [k for k, sep, _ in pairs if not sep]
        if bad:
            raise UserError(f"--space {text!r}: expected key=value, got {bad[0]!r}")
        try:
            return cls.model_validate({k.strip(): v.strip() for k, _, v in pairs})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise UserError(
                f"--space {text!r}: {'.'.join(map(str, err['loc']))}: {err['msg']}"
            ) from None


DEFAULT_SPACES = (
    SpaceSpec(kind="audio", title="Simulated audio Space", host="sim_host"),
    SpaceSpec(kind="camera", title="Simulated camera Space", host="cam_host"),
    SpaceSpec(
        kind="audio", start=-1800, duration=600, title="Ended Space with replay", host="replay_host"
    ),
    SpaceSpec(kind="audio", start=3600, title="Scheduled Space", host="later_host"),
)


def derive_id(seed: int, index: int) -> str:
    rng = random.Random(f"space-id:{seed}:{index}")
    return "1" + "".join(rng.choice(ALPHANUM) for _ in range(12))


def derive_media_key(space_id: str) -> str:
    digits = int.from_bytes(hashlib.sha256(space_id.encode()).digest()[:8]) % 10**18
    return f"28_1{digits:018d}"


@dataclass
class Disconnect:
    """The host is away from `start` to `start + seconds`, in seconds after the Space's start."""

    start: float
    seconds: float


@dataclass
class Space:
    id: str
    kind: SpaceKind
    title: str
    host: str
    media_key: str
    created_at: float
    starts_at: float
    duration: float | None  # None: runs until ended by hand
    replay: bool
    disconnects: list[Disconnect] = field(default_factory=list)
    ended_at_override: float | None = None
    # Spans (seconds after the start) in which nobody speaks: the silence lever's work.
    silences: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: SpaceSpec, index: int, seed: int, now: float) -> Space:
        space_id = spec.id or derive_id(seed, index)
        return cls(
            id=space_id,
            kind=spec.kind,
            title=spec.title,
            host=spec.host,
            media_key=derive_media_key(space_id),
            created_at=now + min(spec.start, 0) - 60,
            starts_at=now + spec.start,
            duration=spec.duration or None,
            replay=spec.replay,
        )

    @property
    def ends_at(self) -> float | None:
        if self.ended_at_override is not None:
            return self.ended_at_override
        return None if self.duration is None else self.starts_at + self.duration

    def state(self, now: float) -> SpaceState:
        if now < self.starts_at:
            return SpaceState.NOT_STARTED
        ends_at = self.ends_at
        if ends_at is None or now < ends_at:
            return SpaceState.RUNNING
        return SpaceState.ENDED

    def elapsed(self, now: float) -> float:
        """Seconds of audio produced so far."""
        ends_at = self.ends_at
        until = now if ends_at is None else min(now, ends_at)
        return max(0.0, until - self.starts_at)

    def host_away(self, now: float) -> bool:
        t = now - self.starts_at
        return any(d.start <= t < d.start + d.seconds for d in self.disconnects)

    def end(self, now: float) -> None:
        if self.state(now) is SpaceState.NOT_STARTED:
            self.starts_at = now
        self.ended_at_override = now

    def disconnect_for(self, now: float, seconds: float) -> None:
        self.disconnects.append(Disconnect(now - self.starts_at, seconds))

    def start(self, now: float) -> None:
        if self.state(now) is SpaceState.NOT_STARTED:
            self.starts_at = now

    def fall_silent(self, now: float) -> None:
        """From now on nobody speaks, until `speak` (frames already heard stay as they were)."""
        if not self.silent_at(self.elapsed(now)):
            self.silences.append((self.elapsed(now), math.inf))

    def speak(self, now: float) -> None:
        if self.silences and self.silences[-1][1] == math.inf:
            self.silences[-1] = (self.silences[-1][0], max(self.elapsed(now), self.silences[-1][0]))

    def silent_at(self, t: float) -> bool:
        """Whether nobody speaks `t` seconds into the Space's audio."""
        return any(a <= t < b for a, b in self.silences)


def parse_disconnect(text: str) -> Disconnect:
    start, sep, seconds = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return Disconnect(float(start), float(seconds))
    except ValueError:
        raise UserError(f"--host-disconnect {text!r}: expected START:SECONDS") from None
