"""MPEG-TS segments for camera Spaces' renditions, muxed by ffmpeg from the rendition's AAC
frames with continuous timestamps, and kept in a small cache (every listener asks for the
same few live segments)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from simulator.chunks import ChunkMaker

CACHE_SIZE = 64


class SegmentCache:
    def __init__(self) -> None:
        self._done: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, maker: ChunkMaker, seq: int) -> bytes:
        key = (maker.space_id, seq)
        async with self._lock:
            if key not in self._done:
                self._done[key] = await mux_ts(maker.audio(seq), maker.pts(seq) / 90_000)
                while len(self._done) > CACHE_SIZE:
                    self._done.popitem(last=False)
            self._done.move_to_end(key)
            return self._done[key]


async def mux_ts(adts: bytes, start_s: float) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "aac",
        "-i",
        "pipe:0",
        "-c",
        "copy",
        "-output_ts_offset",
        f"{start_s:.6f}",
        "-muxdelay",
        "0",
        "-muxpreload",
        "0",
        "-f",
        "mpegts",
        "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(adts)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not mux a TS segment: {err.decode(errors='replace')}")
    return out
