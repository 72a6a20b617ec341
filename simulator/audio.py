"""Source audio for simulated Spaces, made once and cached: ADTS AAC-LC 48 kHz stereo ~96 kb/s.

Speech comes from espeak-ng (three voices: the host and two guests, with pauses), normalised so
a level meter reads about -20 dB mean as real Spaces do. Camera Spaces' other renditions carry a
steady tone instead, so a client that mixes renditions is caught by a spectrum check.
Spaces longer than the source loop it; the speaker timeline loops with it.
"""

from __future__ import annotations

import array
import functools
import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 48_000
SAMPLES_PER_FRAME = 1024
TARGET_MEAN_DB = -17.0  # before the limiter; about -20 dB mean after it
ESPEAK_RATE = 22_050
PAUSE_S = 0.45

# (speaker index, espeak voice, line). 0 is the host; the others are guests on stage.
SCRIPT: tuple[tuple[int, str, str], ...] = (
    (0, "en-us+m3", "Welcome everyone to the Space. Give it a moment while people join."),
    (1, "en-gb+f3", "Thanks for having me. It is great to be on stage today."),
    (0, "en-us+m3", "Today we are talking about live streaming, recording, and Kubernetes."),
    (
        2,
        "en-us+m7",
        "I have been restreaming Spaces for a while, and audio is always the hard part.",
    ),
    (1, "en-gb+f3", "Camera Spaces are tricky, because listeners never receive the audio track."),
    (0, "en-us+m3", "Right, so the recorder has to pull the playlist instead of the web player."),
    (2, "en-us+m7", "And every chunk carries tags that confuse a naive join. Strip them first."),
    (1, "en-gb+f3", "One more thing: the final playlist can be missing for a few minutes."),
    (0, "en-us+m3", "Let us take questions from the audience now. Raise your hand to speak."),
    (2, "en-us+m7", "Numbers one, two, three, four, five, six, seven, eight, nine, ten."),
)
SPEAKERS = ("sim_host", "guest_ada", "guest_linus")


@dataclass(frozen=True)
class SourceAudio:
    """Whole ADTS frames, and for speech, which speaker talks during each frame (-1: nobody)."""

    frames: tuple[bytes, ...]
    speaker: tuple[int, ...]

    def frame(self, index: int) -> bytes:
        return self.frames[index % len(self.frames)]

    def speaker_at(self, index: int) -> int:
        return self.speaker[index % len(self.speaker)]


def split_adts(data: bytes) -> list[bytes]:
    """Cut an ADTS stream into frames (13-bit frame length at byte 3..5 of each header)."""
    frames, pos = [], 0
    while pos + 7 <= len(data):
        if data[pos] != 0xFF or data[pos + 1] & 0xF0 != 0xF0:
            raise ValueError(f"lost ADTS sync at byte {pos}")
        length = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        frames.append(data[pos : pos + length])
        pos += length
    return frames


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spacecast" / "simulator"


def _encode_aac(args: list[str], out: Path) -> None:
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *args,
        "-ac",
        "2",
        "-ar",
        str(SAMPLE_RATE),
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-f",
        "adts",
        str(out),
    ]
    subprocess.run(cmd, check=True)


def _speak(workdir: Path) -> tuple[Path, float, list[tuple[int, int, int]]]:
    """Render the script to one WAV. Returns it, the gain (dB) that brings its mean to the
    target, and the turns as (first sample, end sample, speaker) at espeak's rate."""
    pcm = array.array("h")
    turns = []
    for i, (speaker, voice, line) in enumerate(SCRIPT):
        part = workdir / f"line{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(part), line], check=True)
        with wave.open(str(part)) as w:
            samples = array.array("h", w.readframes(w.getnframes()))
            if w.getframerate() != ESPEAK_RATE or w.getnchannels() != 1:
                raise RuntimeError(f"unexpected espeak-ng output format in {part}")
        turns.append((len(pcm), len(pcm) + len(samples), speaker))
        pcm.extend(samples)
        pcm.extend(array.array("h", bytes(2 * int(PAUSE_S * ESPEAK_RATE))))
    mean_db = 10 * math.log10(sum(s * s for s in pcm) / len(pcm) / 32768**2)
    path = workdir / "speech.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(ESPEAK_RATE)
        w.writeframes(pcm.tobytes())
    return path, TARGET_MEAN_DB - mean_db, turns


def _speaker_per_frame(turns: list[tuple[int, int, int]], n_frames: int) -> bytes:
    out = bytearray()
    for f in range(n_frames):
        t = f * SAMPLES_PER_FRAME / SAMPLE_RATE * ESPEAK_RATE
        out.append(next((spk for a, b, spk in turns if a <= t < b), -1) & 0xFF)
    return bytes(out)


def _build_speech(out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav, gain_db, turns = _speak(Path(tmp))
        # The limiter keeps peaks legal after the gain; the mean stays near the target.
        _encode_aac(
            ["-i", str(wav), "-af", f"volume={gain_db:.2f}dB,alimiter=limit=0.97"],
            out_dir / "audio.aac",
        )
    n_frames = len(split_adts((out_dir / "audio.aac").read_bytes()))
    (out_dir / "speakers.bin").write_bytes(_speaker_per_frame(turns, n_frames))


def _build_tone(out_dir: Path, hz: int) -> None:
    _encode_aac(
        [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={hz}:sample_rate={SAMPLE_RATE}:duration=30",
            "-af",
            "volume=0.7",
        ],
        out_dir / "audio.aac",
    )
    (out_dir / "speakers.bin").write_bytes(b"")


def _load(out_dir: Path) -> SourceAudio:
    frames = tuple(split_adts((out_dir / "audio.aac").read_bytes()))
    speakers = tuple(b if b < 128 else b - 256 for b in (out_dir / "speakers.bin").read_bytes())
    return SourceAudio(frames, speakers or (-1,))


def _cached(name: str, recipe: str, build: Callable[[Path], None]) -> SourceAudio:
    """Build once per recipe into the cache; a half-built directory is never used."""
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    final = cache_dir() / f"{name}-{digest}"
    if not (final / "speakers.bin").exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{name}-"))
        try:
            build(staging)
            staging.rename(final)
        except OSError:
            if not (final / "speakers.bin").exists():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _load(final)


@functools.cache
def speech() -> SourceAudio:
    return _cached("speech", repr((SCRIPT, TARGET_MEAN_DB, PAUSE_S, 2)), _build_speech)


def _build_silence(out_dir: Path) -> None:
    _encode_aac(
        ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo", "-t", "10"],
        out_dir / "audio.aac",
    )
    (out_dir / "speakers.bin").write_bytes(b"")


@functools.cache
def silence() -> SourceAudio:
    """Digital silence in the speech's format: what a Space sends while nobody speaks."""
    return _cached("silence", repr((SAMPLE_RATE, 1)), _build_silence)


@functools.cache
def tone(hz: int) -> SourceAudio:
    return _cached(f"tone{hz}", repr((hz, 1)), lambda d: _build_tone(d, hz))
