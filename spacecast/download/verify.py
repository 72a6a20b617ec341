"""Check the file we made: its duration, measured by ffprobe, against what X's playlists say."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from spacecast.errors import ExitCode, UserError

TOLERANCE_S = 0.050


class DurationMismatch(UserError):
    def __init__(self, actual: float, expected: float) -> None:
        super().__init__(
            f"output lasts {actual:.3f} s but the playlist says {expected:.3f} s",
            ExitCode.MEDIA_UNAVAILABLE,
        )


def probe_command(path: Path, count_packets: bool = False) -> list[str]:
    """Duration from the container; raw ADTS has none (ffprobe would guess from the bitrate),
    so for it the packets are counted: each is one 1024-sample frame."""
    entries = "stream=nb_read_packets,sample_rate" if count_packets else "format=duration"
    extra = ["-count_packets"] if count_packets else []
    return ["ffprobe", "-v", "error", *extra, "-show_entries", entries, "-of", "json", str(path)]


async def probe_duration(path: Path, raw_adts: bool = False) -> float:
    proc = await asyncio.create_subprocess_exec(
        *probe_command(path, raw_adts),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"ffprobe failed: {err.decode(errors='replace').strip()}")
    info = json.loads(out)
    if raw_adts:
        stream = info["streams"][0]
        return int(stream["nb_read_packets"]) * 1024 / int(stream["sample_rate"])
    return float(info["format"]["duration"])


def check_duration(actual: float, expected: float, tolerance: float = TOLERANCE_S) -> None:
    if abs(actual - expected) > tolerance:
        raise DurationMismatch(actual, expected)
