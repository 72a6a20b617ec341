"""Reading the encoder's FLV stream tag by tag, so it can be fanned out to RTMP destinations.

A destination that (re)connects mid-stream needs the stream's metadata and the audio and video
sequence headers before anything else, and must start at a video keyframe; the tag flags below
are what the fan-out needs to know.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

AUDIO, VIDEO, SCRIPT = 8, 9, 18
AAC, AVC = 10, 7


@dataclass(frozen=True)
class Tag:
    kind: int
    timestamp: int  # milliseconds
    data: bytes

    @property
    def is_sequence_header(self) -> bool:
        if self.kind == VIDEO:
            return len(self.data) > 1 and self.data[0] & 0x0F == AVC and self.data[1] == 0
        if self.kind == AUDIO:
            return len(self.data) > 1 and self.data[0] >> 4 == AAC and self.data[1] == 0
        return False

    @property
    def is_keyframe(self) -> bool:
        return self.kind == VIDEO and bool(self.data) and self.data[0] >> 4 == 1

    @property
    def is_metadata(self) -> bool:
        return self.kind == SCRIPT


class FlvError(Exception):
    pass


async def read_tags(reader: asyncio.StreamReader) -> AsyncIterator[Tag]:
    """Tags until the stream ends; a stream that does not start like FLV is an error."""
    try:
        header = await reader.readexactly(9)
    except asyncio.IncompleteReadError:
        return
    if header[:3] != b"FLV":
        raise FlvError("the encoder's output is not FLV")
    await reader.readexactly(
        int.from_bytes(header[5:9]) - 9 + 4
    )  # rest of header, PreviousTagSize0
    while True:
        try:
            head = await reader.readexactly(11)
            size = int.from_bytes(head[1:4])
            timestamp = int.from_bytes(head[4:7]) | head[7] << 24
            data = await reader.readexactly(size)
            await reader.readexactly(4)
        except asyncio.IncompleteReadError:
            return
        yield Tag(head[0] & 0x1F, timestamp, data)
