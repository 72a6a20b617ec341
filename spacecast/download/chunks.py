"""Clean one Space chunk down to its ADTS audio frames (x-spaces.md 2.6).

A chunk is: maybe stray bytes (a partial MPEG-TS packet), a 73-byte ID3 PRIV tag with the
chunk's 90 kHz PTS, Hydra ID3 tags, and ADTS frames with more ID3 tags between them. Any tag
left in the stream spoils ffmpeg's probing and per-file durations, so every tag goes, and so
does any byte that is neither a tag nor a frame. A frame is only believed when the next thing
after it is another frame, a tag or the end, so stray bytes that look like a sync word do not
become audio. The PTS is kept: it measures the length of a hole where chunks are missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ADTS_HEADER = 7
ID3_HEADER = 10
PRIV_OWNER = b"com.apple.streaming.transportStreamTimestamp\x00"
PTS_WRAP = 2**33
PTS_PER_FRAME = 90_000 * 1024 // 48_000  # 1920 ticks per AAC frame at 48 kHz
# An ID3v2.2-2.4 header, or an ADTS sync word (MPEG-4 or -2, layer 0, with or without CRC):
# the words _is_tag_at and _is_frame_at test byte by byte on the hot path, sought after stray bytes.
SYNC_RE = re.compile(rb"ID3[\x02-\x04]|\xff[\xf0\xf1\xf8\xf9]")


@dataclass(frozen=True)
class CleanChunk:
    audio: bytes  # the ADTS frames alone
    frames: int
    pts: int | None  # from the PRIV timestamp tag, when there is one
    tags: int
    stray: int  # bytes dropped that were neither a tag nor a frame
    complete: bool  # False when the body ends inside a frame or tag (a cut-short download)


def _synchsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def _is_tag_at(data: bytes, pos: int) -> bool:
    return data.startswith(b"ID3", pos) and pos + 3 < len(data) and 2 <= data[pos + 3] <= 4


def _is_frame_at(data: bytes, pos: int) -> bool:
    # 0xFFF sync, MPEG-4 or -2, layer 0, with or without CRC: 0xF0, 0xF1, 0xF8, 0xF9.
    return data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] & 0xF6 == 0xF0


def _tag_end(data: bytes, pos: int) -> int | None:
    """Where the ID3 tag at `pos` ends, or None if its header is not a tag's."""
    if len(data) - pos < ID3_HEADER or data[pos + 3] == 0xFF or data[pos + 4] == 0xFF:
        return None
    size_bytes = data[pos + 6 : pos + 10]
    if any(b & 0x80 for b in size_bytes):
        return None
    footer = ID3_HEADER if data[pos + 5] & 0x10 else 0
    return pos + ID3_HEADER + _synchsafe(size_bytes) + footer


def frame_end(data: bytes, pos: int) -> int | None:
    """Where the ADTS frame at `pos` ends, by its 13-bit length (not checked past the end)."""
    if len(data) - pos < ADTS_HEADER:
        return None
    length = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
    return pos + length if length >= ADTS_HEADER else None


def _pts(tag: bytes) -> int | None:
    at = tag.find(PRIV_OWNER)
    if at < 0 or len(tag) < at + len(PRIV_OWNER) + 8:
        return None
    start = at + len(PRIV_OWNER)
    return int.from_bytes(tag[start : start + 8], "big") % PTS_WRAP


def clean(data: bytes) -> CleanChunk:
    runs: list[list[int]] = []  # [start, end) of frames back to back, joined once at the end
    n = len(data)
    pos, frames, tags, stray, pts, complete = 0, 0, 0, 0, None, True
    while pos < n:
        is_tag = _is_tag_at(data, pos)
        end = (
            _tag_end(data, pos) if is_tag else frame_end(data, pos)
            if _is_frame_at(data, pos) else None
        )  # fmt: skip
        if end is not None and end > n:
            complete = False  # the body stops inside this tag or frame
            stray += n - pos
            break
        if end is not None and is_tag:
            tags += 1
            pts = _pts(data[pos:end]) if pts is None else pts
            pos = end
            continue
        if end is not None and (end == n or _is_frame_at(data, end) or _is_tag_at(data, end)):
            if runs and runs[-1][1] == pos:
                runs[-1][1] = end
            else:
                runs.append([pos, end])
            frames += 1
            pos = end
            continue
        found = SYNC_RE.search(data, pos + 1)  # stray bytes: skip to the next sync word
        nxt = found.start() if found else n
        stray += nxt - pos
        pos = nxt
    audio = b"".join(data[a:b] for a, b in runs)
    return CleanChunk(audio, frames, pts, tags, stray, complete)


def frames_for(seconds: float) -> int:
    """AAC frames in an EXTINF duration (three decimals; a frame is 21.333 ms)."""
    return round(seconds * 48_000 / 1024)
