"""The chunk timeline of one Space and the bytes of each chunk (x-spaces.md 6.3).

Everything is a pure function of (seed, Space id, sequence number): the same chunk always has
the same frames, name, PTS and tags, which is what lets tests compare a download with the
simulator's ground truth and a resumed download with an uninterrupted one.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction

from simulator import audio, id3

FRAME_SECONDS = audio.SAMPLES_PER_FRAME / audio.SAMPLE_RATE
PTS_PER_FRAME = 90_000 * audio.SAMPLES_PER_FRAME // audio.SAMPLE_RATE  # 1920
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
NAME_BEHIND_PDT_S = 5.6
# Frames per chunk as measured on real chunks: 141 most often, then 140, 136, 145, 142, ...
FRAME_COUNTS = (141, 140, 136, 145, 142, 132, 138, 150)
FRAME_WEIGHTS = (45, 24, 9, 9, 6, 3, 2, 2)
FULL_TAG_EVERY = 47
STRAY_PREFIX = bytes.fromhex("474011100042f0250001c10000")  # a partial MPEG-TS packet


def _rng(*key: object) -> random.Random:
    return random.Random(hashlib.sha256(repr(key).encode()).digest())


def iso_ms(epoch: float) -> str:
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


FRAMES_PER_SECOND = Fraction(audio.SAMPLE_RATE, audio.SAMPLES_PER_FRAME)  # 46.875


@dataclass
class Timeline:
    """Frame counts and start frames of a Space's chunks, extended lazily as the Space runs.

    An audio Space's chunks hold as many frames as real ones do (FRAME_COUNTS). A camera Space's
    segments are cut at the video's keyframes, every `segment_s` seconds exactly, so each holds
    the audio frames that start within its span: 141, 141, 140, ... for 3 s.
    """

    key: str
    segment_s: int | None = None
    _counts: list[int] = field(default_factory=list)
    _ends: list[int] = field(default_factory=list)  # cumulative frame count after each chunk

    def _extend_to(self, seq: int) -> None:
        while len(self._counts) <= seq:
            n = len(self._counts)
            if self.segment_s:
                per = self.segment_s * FRAMES_PER_SECOND
                count = math.ceil((n + 1) * per) - math.ceil(n * per)
            else:
                count = _rng(self.key, "frames", n).choices(FRAME_COUNTS, FRAME_WEIGHTS)[0]
            self._counts.append(count)
            self._ends.append((self._ends[-1] if self._ends else 0) + count)

    def frames(self, seq: int) -> int:
        self._extend_to(seq)
        return self._counts[seq]

    def first_frame(self, seq: int) -> int:
        self._extend_to(seq)
        return self._ends[seq] - self._counts[seq]

    def start_s(self, seq: int) -> float:
        return self.first_frame(seq) * FRAME_SECONDS

    def duration_s(self, seq: int) -> float:
        """A camera Space's segment lasts as long as its picture; its audio, within a frame."""
        return self.segment_s or self.frames(seq) * FRAME_SECONDS

    def extinf(self, seq: int) -> str:
        return f"{self.duration_s(seq):.3f}"

    def complete(self, elapsed_s: float) -> int:
        """How many chunks have ended after `elapsed_s` seconds of audio."""
        frames = int(elapsed_s / FRAME_SECONDS + 1e-9)
        while not self._ends or self._ends[-1] <= frames:
            self._extend_to(len(self._counts) + 64)
        return bisect.bisect_right(self._ends, frames)


@dataclass
class ChunkMaker:
    """Names and bytes of one Space's audio chunks."""

    space_id: str
    seed: int
    started_at: float
    source: audio.SourceAudio
    participants: list[dict[str, object]]
    timeline: Timeline = field(default_factory=lambda: Timeline(""))
    # Whether nobody speaks t seconds into the Space (the silence lever): such frames are
    # digital silence, with zero levels in the tags, as X sends when the stage goes quiet.
    silent: Callable[[float], bool] = lambda t: False
    # X's 90 kHz stamps run a little short of whole frames: each chunk's PTS is early by a
    # fixed share (0 to this many ticks) of its own, so PTS distances are not whole frames.
    pts_early_ticks: int = 0
    pts_base: int = field(init=False)
    _participants: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.timeline.key:
            self.timeline.key = f"{self.seed}:{self.space_id}"
        self.pts_base = _rng(self.seed, self.space_id, "pts").randrange(id3.PTS_WRAP)
        self._participants = id3.participants_frame(self.participants)

    def name(self, seq: int) -> str:
        jitter = _rng(self.seed, self.space_id, "ns", seq).uniform(-0.045, 0.045)
        ns = round(
            (self.started_at + self.timeline.start_s(seq) - NAME_BEHIND_PDT_S + jitter) * 1e9
        )
        return f"chunk_{ns:019d}_{seq}_a.aac"

    def pdt(self, seq: int) -> str:
        return iso_ms(self.started_at + self.timeline.start_s(seq))

    def pts(self, seq: int) -> int:
        early = _rng(self.seed, self.space_id, "early", seq).randint(0, self.pts_early_ticks)
        exact = self.pts_base + self.timeline.first_frame(seq) * PTS_PER_FRAME
        return (exact - early) % id3.PTS_WRAP

    def _quiet(self, frame: int) -> bool:
        return self.silent(frame * FRAME_SECONDS)

    def frame(self, frame: int) -> bytes:
        return audio.silence().frame(frame) if self._quiet(frame) else self.source.frame(frame)

    def levels(self, frame: int) -> list[int]:
        speaking = -1 if self._quiet(frame) else self.source.speaker_at(frame)
        loud = 20 + (frame * 7919) % 60
        return [loud if i == speaking else 0 for i in range(len(self.participants) + 1)]

    def _full_tag(self, frame: int) -> bytes:
        ntp = self.started_at + frame * FRAME_SECONDS + NTP_EPOCH_OFFSET
        return id3.hydra_full_tag(ntp, self._participants, self.levels(frame))

    def audio(self, seq: int) -> bytes:
        """The chunk's ADTS frames alone: the ground truth a clean download must reproduce."""
        first = self.timeline.first_frame(seq)
        return b"".join(self.frame(first + i) for i in range(self.timeline.frames(seq)))

    def body(self, seq: int, stray_bytes: bool = False) -> bytes:
        return b"".join(self.pieces(seq, stray_bytes))

    def pieces(self, seq: int, stray_bytes: bool = False) -> list[bytes]:
        """The chunk's body as its parts: stray bytes, tags and frames, in order."""
        rng = _rng(self.seed, self.space_id, "tags", seq)
        first = self.timeline.first_frame(seq)
        out = [STRAY_PREFIX] if stray_bytes else []
        out.append(id3.timestamp_tag(self.pts(seq)))
        if rng.random() >= 0.02:  # 3 of 172 real chunks go straight to audio
            out.append(self._full_tag(first))
        next_level = rng.choice((9, 10))
        for i in range(self.timeline.frames(seq)):
            frame = first + i
            if i and i % FULL_TAG_EVERY == 0:
                out.append(self._full_tag(frame))
            elif i == next_level:
                out.append(id3.hydra_level_tag(self.levels(frame)))
            if i >= next_level:
                next_level = i + rng.choice((9, 10))
            out.append(self.frame(frame))
        return out
