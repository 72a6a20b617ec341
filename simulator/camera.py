"""MPEG-TS segments for camera Spaces' renditions: the rendition's AAC frames and its H.264 card
(simulator/video.py), muxed by ffmpeg with continuous timestamps, and kept in a small cache
(every listener asks for the same few live segments).

Segment n's picture starts exactly n * 3 s into the Space, at a keyframe; its audio starts with
the first AAC frame that begins in that span, so up to a frame later. Both are stamped against
the rendition's own PTS base, as the PRIV tags of an audio Space's chunks are.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from simulator import id3, video
from simulator.chunks import ChunkMaker

CACHE_BYTES = 256 * 2**20  # about 15 minutes of the best rendition: a bench's whole Space
MUXING = 4  # ffmpeg muxes at once, at most (each is short; more would only queue for the CPU)


@dataclass(frozen=True)
class Card:
    width: int
    height: int
    name: str  # the host's screen name, shown on the card


class SegmentCache:
    """Segments by (rendition, sequence number), the least recently used dropped past
    CACHE_BYTES. Each is muxed once however many ask for it at the same time, and different
    segments are muxed side by side."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self._done: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = 0
        self._making: dict[tuple[str, int], asyncio.Future[bytes]] = {}
        self._slots = asyncio.Semaphore(MUXING)

    async def get(self, maker: ChunkMaker, seq: int, card: Card) -> bytes:
        key = (maker.space_id, seq)
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        if key not in self._making:
            making = asyncio.ensure_future(self._make(key, maker, seq, card))
            # Asked for by listeners who may all have gone: its failure is theirs, not a stray.
            making.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._making[key] = making
        return await asyncio.shield(self._making[key])

    async def _make(self, key: tuple[str, int], maker: ChunkMaker, seq: int, card: Card) -> bytes:
        try:
            async with self._slots:
                body = await segment(maker, seq, card)
        finally:
            del self._making[key]
        self._done[key] = body
        self._size += len(body)
        while self._size > self.budget and self._done:
            self._size -= len(self._done.popitem(last=False)[1])
        return body


def video_pts(maker: ChunkMaker, seq: int) -> int:
    return (maker.pts_base + seq * video.SEGMENT_TICKS) % id3.PTS_WRAP


def _seconds(ticks: int) -> str:
    return f"{ticks / 90_000:.6f}"  # microseconds: ffmpeg rounds them back to the exact tick


def mux_command(picture: str, base: int, video_at: int, audio_at: int) -> list[str]:
    """Video from a loop file and ADTS audio on stdin, each shifted to its own start (ticks
    after `base`, the segment's first timestamp), copied into one TS."""
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-itsoffset", _seconds(video_at), "-i", picture,
        "-itsoffset", _seconds(audio_at), "-f", "aac", "-i", "pipe:0",
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
        "-output_ts_offset", _seconds(base), "-muxdelay", "0", "-muxpreload", "0",
        "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


async def segment(maker: ChunkMaker, seq: int, card: Card) -> bytes:
    picture = await asyncio.to_thread(video.segment_file, card.width, card.height, card.name, seq)
    v, a = video_pts(maker, seq), maker.pts(seq)
    # Distances on the unwrapped line: a wrap between the two starts is still a few ticks.
    delta = (a - v + id3.PTS_WRAP // 2) % id3.PTS_WRAP - id3.PTS_WRAP // 2
    base, video_at, audio_at = (v, 0, delta) if delta >= 0 else (a, -delta, 0)
    proc = await asyncio.create_subprocess_exec(
        *mux_command(str(picture), base, video_at, audio_at),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(maker.audio(seq))
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not mux a TS segment: {err.decode(errors='replace')}")
    return out
