"""Clean one Space chunk down to its ADTS audio frames (x-spaces.md 2.6).

A chunk is: maybe stray bytes (a partial MPEG-TS packet), a 73-byte ID3 PRIV tag with the
chunk's 90 kHz PTS, Hydra ID3 tags, and ADTS frames with more ID3 tags between them. Any tag
left in the stream spoils ffmpeg's probing and per-file durations, so every tag goes, and so
does any byte that is neither a tag nor a frame. The PTS is kept: it measures the length of a
hole where chunks are missing.

Stray bytes can hold what looks like a sync word, and its length can happen to land on the next
tag; believed, it turns junk into audio and can swallow the PRIV tag with the PTS. So a
candidate is only believed when what follows it (past any tags) is the end or a frame with the
same signature (profile, sampling rate, channel layout), and a frame only when its signature is
the chunk's own: that of its first two frames back to back, else of its first believed frame.
The timestamp tag vouches for itself (its size and owner are known). A candidate that runs
past the end marks the body cut short only if nothing believable follows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ADTS_HEADER = 7
ID3_HEADER = 10
PRIV_OWNER = b"com.apple.streaming.transportStreamTimestamp\x00"
PTS_TAG = 2 * ID3_HEADER + len(PRIV_OWNER) + 8  # tag header, PRIV frame header, owner, PTS: 73
PTS_WRAP = 2**33
PTS_PER_FRAME = 90_000 * 1024 // 48_000  # 1920 ticks per AAC frame at 48 kHz
FRAMES_PER_S = 48_000 / 1024
# An ID3v2.2-2.4 header, or an ADTS sync word (MPEG-4 or -2, layer 0, with or without CRC):
# the words _is_tag_at and _is_frame_at test byte by byte on the hot path, sought after stray bytes.
SIGNATURE_MASK = 0xFFFDC0
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


def signature(data: bytes, pos: int) -> int | None:
    """What every frame of one stream shares: the sync word, MPEG version, CRC or not, profile,
    sampling rate and channel layout (header bytes 1-3 less the private, copy and length bits);
    None when the header is cut short or names no sampling rate (indexes 13-15 are reserved)."""
    if len(data) - pos < ADTS_HEADER or (data[pos + 2] >> 2) & 0x0F > 12:
        return None
    return (data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3]) & SIGNATURE_MASK


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


def _follows(data: bytes, pos: int, sig: int | None) -> bool:
    """Whether `pos` is a believable next step: past any tags, the end (or a tag cut short by
    it), or a frame of signature `sig` (any signature while the chunk's is not known)."""
    n = len(data)
    while pos < n and _is_tag_at(data, pos):
        end = _tag_end(data, pos)
        if end is None:
            return n - pos < ID3_HEADER  # a tag header that the end cuts short, or no tag
        pos = end
    if pos >= n or (n - pos < ID3_HEADER and _cut_header(data[pos:])):
        return True  # the end, or a header that the end cuts short (the body is incomplete)
    if not _is_frame_at(data, pos):
        return False
    found = signature(data, pos)
    return found is not None and (sig is None or found == sig)


def _candidate(data: bytes, pos: int, sig: int | None) -> int | None:
    """The signature of a frame header at `pos` that may be the chunk's (None if it cannot)."""
    own = signature(data, pos) if _is_frame_at(data, pos) else None
    return own if own is not None and sig in (None, own) else None


def _own_signature(data: bytes) -> int | None:
    """The signature of the first two frames back to back: the chunk's own (X's chunks hold
    nine or ten in a row after their first tags), which a stray sync word cannot fake by chance
    where one, or two far apart, could."""
    pos = 0
    while (found := SYNC_RE.search(data, pos)) is not None:
        pos = found.start()
        own = _candidate(data, pos, None)
        end = frame_end(data, pos) if own is not None else None
        if end is not None and end < len(data) and _candidate(data, end, own) is not None:
            return own
        pos += 1
    return None


def _frame_run(data: bytes, pos: int, sig: int) -> tuple[int, int, int | None]:
    """Frames of signature `sig` back to back from `pos`, each believed by what follows it:
    where the run stops, how many frames it holds, and the end that the first frame not
    believed claims (past the end of the data when the body is cut short in it)."""
    n, count = len(data), 0
    while (end := frame_end(data, pos)) is not None and end <= n:
        # The hot path, read inline: the next frame's header is this one's.
        if (
            end + ADTS_HEADER <= n
            and data[end] == 0xFF
            and (data[end + 1] << 16 | data[end + 2] << 8 | data[end + 3]) & SIGNATURE_MASK == sig
        ):
            pos, count = end, count + 1
        elif _follows(data, end, sig):
            return end, count + 1, None
        else:
            break
    return pos, count, end


def _tag_believed(data: bytes, pos: int, end: int, sig: int | None) -> bool:
    # The timestamp tag vouches for itself (its size, frame id and owner are known): junk after
    # it must not cost the chunk its PTS.
    timestamp = (
        end - pos == PTS_TAG
        and data.startswith(b"PRIV", pos + ID3_HEADER)
        and data.startswith(PRIV_OWNER, pos + 2 * ID3_HEADER)
    )
    return timestamp or _follows(data, end, sig)


def _cut_header(rest: bytes) -> bool:
    """Whether `rest`, the bytes after the last tag or frame, is a tag or frame header cut
    short by the end of the body (too short for the scan to take it for one)."""
    if not rest:
        return False
    if len(rest) < ID3_HEADER and b"ID3".startswith(rest[:3]):
        return len(rest) < 4 or 2 <= rest[3] <= 4
    return len(rest) < ADTS_HEADER and rest[0] == 0xFF and (len(rest) == 1 or _is_frame_at(rest, 0))


def _pts(tag: bytes) -> int | None:
    at = tag.find(PRIV_OWNER)
    if at < 0 or len(tag) < at + len(PRIV_OWNER) + 8:
        return None
    start = at + len(PRIV_OWNER)
    return int.from_bytes(tag[start : start + 8], "big") % PTS_WRAP


def clean(data: bytes) -> CleanChunk:
    runs: list[tuple[int, int]] = []  # [start, end) of frames back to back, joined at the end
    n = len(data)
    pos, frames, tags, stray, pts = 0, 0, 0, 0, None
    sig = _own_signature(data)  # None until a frame is believed, if no two frames touch
    overrun: int | None = None  # a candidate that ran past the end, with nothing after it yet
    last = 0  # where the last believed tag or frame ends
    while pos < n:
        end: int | None = None
        if _is_tag_at(data, pos):
            end = _tag_end(data, pos)
            if end is not None and end <= n and _tag_believed(data, pos, end, sig):
                tags += 1
                pts = _pts(data[pos:end]) if pts is None else pts
                pos = last = end
                overrun = None
                continue
        elif (own := _candidate(data, pos, sig)) is not None:
            stop, count, end = _frame_run(data, pos, own)
            if count:
                runs.append((pos, stop))
                frames, sig, pos, last, overrun = frames + count, own, stop, stop, None
                continue
        if end is not None and end > n and overrun is None:
            overrun = pos  # cut short here, unless something believable follows
        found = SYNC_RE.search(data, pos + 1)  # stray bytes: skip to the next sync word
        nxt = found.start() if found else n
        stray += nxt - pos
        pos = nxt
    audio = b"".join(data[a:b] for a, b in runs)
    complete = overrun is None and not _cut_header(data[last:])
    return CleanChunk(audio, frames, pts, tags, stray, complete)


def frames_for(seconds: float) -> int:
    """AAC frames in an EXTINF duration (three decimals; a frame is 21.333 ms)."""
    return round(seconds * 48_000 / 1024)
