"""ID3v2.4 tags exactly as X writes them into Space chunks (x-spaces.md 2.6).

Written by hand rather than through mutagen because the bytes are the point: the leading
timestamp tag must be exactly 73 bytes with no padding, and sizes are synchsafe.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

PTS_WRAP = 2**33
PRIV_OWNER = b"com.apple.streaming.transportStreamTimestamp\x00"
UTF8 = b"\x03"


def synchsafe(n: int) -> bytes:
    if n >= 1 << 28:
        raise ValueError("ID3 size too large")
    return bytes(((n >> shift) & 0x7F) for shift in (21, 14, 7, 0))


def _frame(frame_id: str, data: bytes) -> bytes:
    return frame_id.encode("ascii") + synchsafe(len(data)) + b"\x00\x00" + data


def _tag(frames: bytes) -> bytes:
    return b"ID3\x04\x00\x00" + synchsafe(len(frames)) + frames


def _txxx(description: str, value: str) -> bytes:
    return _frame("TXXX", UTF8 + description.encode() + b"\x00" + value.encode())


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def timestamp_tag(pts: int) -> bytes:
    """The Apple packed-audio tag: the 33-bit, 90 kHz PTS of the chunk's first sample."""
    return _tag(_frame("PRIV", PRIV_OWNER + (pts % PTS_WRAP).to_bytes(8, "big")))


def participants_frame(participants: Sequence[dict[str, object]]) -> bytes:
    """The HydraParticipants frame: the same for every full tag of a Space, so built once."""
    return _txxx("HydraParticipants", _compact(list(participants)))


def hydra_full_tag(ntp: float, participants: bytes, levels: Sequence[int]) -> bytes:
    """`participants` is the Space's `participants_frame`."""
    stamp = f"{ntp:.3f}"
    return _tag(
        _frame("TIT3", UTF8 + stamp.encode())
        + _txxx("JSONMetadata", _compact({"HydraVersion": 4, "ntp": float(stamp)}))
        + participants
        + _txxx("HydraAudioLevel", _compact(list(levels)))
    )


def hydra_level_tag(levels: Sequence[int]) -> bytes:
    return _level_tag(tuple(levels))


@functools.lru_cache(maxsize=1024)
def _level_tag(levels: tuple[int, ...]) -> bytes:
    # A dozen of these per chunk from a few hundred distinct values: built once each, so the
    # simulator answers a chunk request in about the time the CDN's latency setting says.
    return _tag(_txxx("HydraAudioLevel", _compact(list(levels))))
