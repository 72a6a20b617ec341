"""Check the file we made: its measured duration against what X's playlists say."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
    """An m4a's duration from its header (mdhd), read by mutagen; a fragmented one (whose moov
    says 0) by adding up its fragments' sample durations. ffprobe would index every sample,
    over 100 MB for a ten-hour Space."""
    audio: Any = MP4(path)  # type: ignore[no-untyped-call]
    return float(audio.info.length) or fragmented_duration(path)


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size < 8:
            return
        yield kind, data[pos + 8 : pos + size]
        pos += size


def _walk_top(f: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """Top-level boxes: moov and moof are read, mdat is skipped without reading it."""
    while header := f.read(8):
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        head = 8
        if size == 1:
            size, head = struct.unpack(">Q", f.read(8))[0], 16
        if size == 0 or size < head:
            return
        if kind in (b"moov", b"moof"):
            yield kind, f.read(size - head)
        else:
            f.seek(size - head, os.SEEK_CUR)


@dataclass
class Track:
    timescale: int = 0
    default: int = 0  # trex's default sample duration
    ticks: int = 0
    samples: int = 0

    @property
    def seconds(self) -> float:
        return self.ticks / self.timescale if self.timescale else 0.0


def _full_box(box: bytes, at32: int, at64: int) -> int:
    """A field of a version 0 or 1 full box, at its offset in either."""
    return struct.unpack_from(">I", box, at64 if box[0] == 1 else at32)[0]  # type: ignore[no-any-return]


def _tracks_of(moov: bytes) -> dict[int, tuple[bytes, Track]]:
    """track id -> (handler type, its timescale and default duration)."""
    found: dict[int, tuple[bytes, Track]] = {}
    defaults: dict[int, int] = {}
    for kind, body in _boxes(moov):
        if kind == b"trak":
            track_id, handler, track = 0, b"", Track()
            for k2, box in _boxes(body):
                if k2 == b"tkhd":
                    track_id = _full_box(box, 12, 20)
                for k3, sub in _boxes(box) if k2 == b"mdia" else ():
                    if k3 == b"mdhd":
                        track.timescale = _full_box(sub, 12, 20)
                    elif k3 == b"hdlr":
                        handler = sub[8:12]
            found[track_id] = (handler, track)
        elif kind == b"mvex":
            for k2, box in _boxes(body):
                if k2 == b"trex":
                    defaults[struct.unpack_from(">I", box, 4)[0]] = struct.unpack_from(
                        ">I", box, 12
                    )[0]
    for track_id, (_, track) in found.items():
        track.default = defaults.get(track_id, 0)
    return found


def _add_traf(traf: bytes, tracks: dict[int, tuple[bytes, Track]]) -> None:
    track: Track | None = None
    default = 0
    for kind, box in _boxes(traf):
        flags = int.from_bytes(box[1:4])
        if kind == b"tfhd":
            entry = tracks.get(struct.unpack_from(">I", box, 4)[0])
            if entry is None:
                return
            track = entry[1]
            default = track.default
            at = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            if flags & 0x08:
                default = struct.unpack_from(">I", box, at)[0]
        elif kind == b"trun" and track is not None:
            count = struct.unpack_from(">I", box, 4)[0]
            track.samples += count
            if not flags & 0x100:
                track.ticks += count * default
                continue
            at = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
            stride = 4 * sum(bool(flags & bit) for bit in (0x100, 0x200, 0x400, 0x800))
            track.ticks += sum(
                struct.unpack_from(">I", box, at + i * stride)[0] for i in range(count)
            )


def tracks(path: Path) -> dict[str, Track]:
    """A fragmented MP4's tracks by handler ("soun", "vide"): their samples and duration,
    added up from the fragments' headers (the media is skipped, not read)."""
    found: dict[int, tuple[bytes, Track]] = {}
    with path.open("rb") as f:
        for kind, body in _walk_top(f):
            if kind == b"moov":
                found = _tracks_of(body)
            else:
                for k, traf in _boxes(body):
                    if k == b"traf":
                        _add_traf(traf, found)
    return {handler.decode("latin-1"): track for handler, track in found.values()}


def fragmented_duration(path: Path) -> float:
    audio = tracks(path).get("soun")
    return audio.seconds if audio else 0.0


def check_pictures(found: Track | None, written: int, audio_s: float, silent_s: float) -> None:
    """A camera Space's picture: every frame written is in the file, and it lasts as long as
    the sound, less the silence before its first segment and after its last."""
    frames = found.samples if found else 0
    if frames != written:
        raise UserError(
            f"output holds {frames} video frames but {written} were written",
            ExitCode.MEDIA_UNAVAILABLE,
        )
    seconds = found.seconds if found else 0.0
    if written and abs(seconds + silent_s - audio_s) > TOLERANCE_S + 0.1:
        raise UserError(
            f"output's picture lasts {seconds:.3f} s but its sound {audio_s:.3f} s",
            ExitCode.MEDIA_UNAVAILABLE,
        )


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
