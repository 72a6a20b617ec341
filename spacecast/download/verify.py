"""Check the file we made: its measured duration against what X's playlists say."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mutagen.mp4 import MP4

from spacecast.errors import ExitCode, UserError

TOLERANCE_S = 0.050


class DurationMismatch(UserError):
    def __init__(self, actual: float, expected: float) -> None:
        super().__init__(
            f"output lasts {actual:.3f} s but the playlist says {expected:.3f} s",
            ExitCode.MEDIA_UNAVAILABLE,
        )


def probe_command(path: Path, count_packets: bool = True) -> list[str]:
    """Raw ADTS has no duration field (ffprobe would guess one from the bitrate), so its
    packets are counted: each is one 1024-sample frame."""
    entries = "stream=nb_read_packets,sample_rate" if count_packets else "format=duration"
    extra = ["-count_packets"] if count_packets else []
    return ["ffprobe", "-v", "error", *extra, "-show_entries", entries, "-of", "json", str(path)]


def container_duration(path: Path) -> float:
    """An m4a's duration from its header (mdhd), read by mutagen: ffprobe would load the whole
    sample table, over 100 MB for a ten-hour Space."""
    audio: Any = MP4(path)  # type: ignore[no-untyped-call]
    return float(audio.info.length)


async def probe_duration(path: Path, raw_adts: bool = False) -> float:
    if not raw_adts:
        return await asyncio.to_thread(container_duration, path)
    proc = await asyncio.create_subprocess_exec(
        *probe_command(path, raw_adts),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"ffprobe failed: {err.decode(errors='replace').strip()}")
    stream = json.loads(out)["streams"][0]
    return int(stream["nb_read_packets"]) * 1024 / int(stream["sample_rate"])


def check_duration(actual: float, expected: float, tolerance: float = TOLERANCE_S) -> None:
    if abs(actual - expected) > tolerance:
        raise DurationMismatch(actual, expected)
