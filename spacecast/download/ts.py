"""Split one camera-Space segment (MPEG-TS) into its audio and its picture (x-spaces.md 2.4).

A segment is 188-byte packets, each starting with the sync byte 0x47:
  byte 1-2  transport error, payload unit start (a PES or table begins here), priority, PID (13)
  byte 3    scrambling (2), adaptation field control (2: 1 payload, 2 field, 3 both), counter
  then      an adaptation field (length byte, flags; a PCR is 6 bytes after the flags when flag
            0x10 is set: 33-bit base, 6 reserved, 9-bit extension), then the payload.
PID 0 carries the PAT (programs -> PMT PIDs); the PMT lists the elementary streams (type 0x0F
ADTS AAC, 0x1B H.264) and their PIDs. Each stream's payload is a run of PES packets:
  00 00 01, stream id, length (2 bytes; 0 = unbounded, as video uses), two flag bytes (the
  second's top bits: PTS, PTS and DTS), header length, then the 5-byte PTS and DTS
  ('001x'/'0001' + bits 32-30, marker, 29-15, marker, 14-0, marker), then the data.
The transcoder puts one access unit (picture) in each video PES, and several ADTS frames in
each audio PES, whose PTS is its first frame's.

The audio is handed to the same cleaner and join as an audio Space's chunks, so it is exact to
the frame in the same way; the picture is kept as packets and restamped onto the output's
timeline (`retime`) as it is written.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from dataclasses import dataclass

PACKET = 188
SYNC = 0x47
PTS_WRAP = 2**33
STREAM_AAC = 0x0F
STREAM_H264 = 0x1B


class NotTransportStream(ValueError):
    pass


@dataclass(frozen=True)
class Segment:
    audio: bytes  # the ADTS frames, back to back
    audio_pts: int | None  # the first audio frame's PTS
    video: bytes  # the PAT, the PMT and the picture's packets (audio and padding dropped)
    pictures: int  # video PES packets: one picture each
    video_pts: int | None  # the first picture's PTS
    frame_ticks: int | None  # the picture's frame interval, from its timestamps
    last_at: int = 0  # where in `video` the last picture's first packet is

    def less_the_last_picture(self) -> Segment:
        """The segment without its last picture: in a body cut short, that one is cut too (a
        video PES gives no length to check it by)."""
        if not self.pictures:
            return self
        return dataclasses.replace(
            self, video=self.video[: self.last_at], pictures=self.pictures - 1, last_at=0
        )


@dataclass
class _Pes:
    pts: int | None
    data: bytearray


def _pid(data: bytes | bytearray, pos: int) -> int:
    return ((data[pos + 1] & 0x1F) << 8) | data[pos + 2]


def _payload_at(data: bytes | bytearray, pos: int) -> int | None:
    """Where the packet's payload begins, or None when it has none."""
    control = (data[pos + 3] >> 4) & 0x3
    if control == 1:
        return pos + 4
    if control == 3:
        start = pos + 5 + data[pos + 4]
        return start if start < pos + PACKET else None
    return None


def _read_ts(b: bytes | bytearray, at: int) -> int:
    return (
        ((b[at] >> 1) & 0x07) << 30
        | b[at + 1] << 22
        | (b[at + 2] >> 1) << 15
        | b[at + 3] << 7
        | b[at + 4] >> 1
    )


def _write_ts(b: bytearray, at: int, value: int) -> None:
    value %= PTS_WRAP
    b[at] = (b[at] & 0xF0) | ((value >> 29) & 0x0E) | 1
    b[at + 1] = (value >> 22) & 0xFF
    b[at + 2] = ((value >> 14) & 0xFE) | 1
    b[at + 3] = (value >> 7) & 0xFF
    b[at + 4] = ((value << 1) & 0xFE) | 1


def _section(payload: bytes | bytearray) -> bytes | bytearray:
    """A PSI section after its pointer field, cut to its declared length."""
    start = 1 + payload[0]
    length = ((payload[start + 1] & 0x0F) << 8) | payload[start + 2]
    return payload[start : start + 3 + length]


def _streams(data: bytes) -> tuple[set[int], dict[int, int]]:
    """The PMT PIDs, and PID -> stream type from the first PMT."""
    pmt_pids: set[int] = set()
    for pos in range(0, len(data) - PACKET + 1, PACKET):
        start = _payload_at(data, pos)
        if start is None or not data[pos + 1] & 0x40:
            continue
        pid, payload = _pid(data, pos), data[start : pos + PACKET]
        if pid == 0:
            pat = _section(payload)
            for at in range(8, len(pat) - 4, 4):  # program number, PMT PID; CRC last
                if (pat[at] << 8) | pat[at + 1]:
                    pmt_pids.add(((pat[at + 2] & 0x1F) << 8) | pat[at + 3])
        elif pid in pmt_pids:
            pmt = _section(payload)
            at = 12 + (((pmt[10] & 0x0F) << 8) | pmt[11])
            streams: dict[int, int] = {}
            while at + 5 <= len(pmt) - 4:
                streams[((pmt[at + 1] & 0x1F) << 8) | pmt[at + 2]] = pmt[at]
                at += 5 + (((pmt[at + 3] & 0x0F) << 8) | pmt[at + 4])
            return pmt_pids, streams
    return pmt_pids, {}


def _stamps_at(payload: bytes | bytearray, start: int, end: int) -> tuple[int, int]:
    """Where the PTS and DTS of a PES beginning at `start` sit (0: it has none, or they do
    not fit before `end` and inside the PES header's own length)."""
    if start + 9 > end or payload[start : start + 3] != b"\x00\x00\x01":
        return 0, 0
    flags, header_end = payload[start + 7] >> 6, start + 9 + payload[start + 8]
    pts = start + 9 if flags & 2 and start + 14 <= min(end, header_end) else 0
    dts = start + 14 if flags == 3 and start + 19 <= min(end, header_end) else 0
    return pts, dts


def _pes_start(payload: bytes | bytearray) -> tuple[int | None, int] | None:
    """(PTS, where the data begins) of a PES that begins this payload; None if none does."""
    if len(payload) < 9 or payload[:3] != b"\x00\x00\x01":
        return None
    pts_at, _ = _stamps_at(payload, 0, len(payload))
    return (_read_ts(payload, pts_at) if pts_at else None), min(len(payload), 9 + payload[8])


def split(data: bytes) -> Segment:
    """The segment's audio frames and picture packets. Raises NotTransportStream, and nothing
    else, for a body that is not whole packets of one, or whose tables or pictures make no
    sense (the caller trims a cut-short body to whole packets first)."""
    if len(data) % PACKET or not data or any(data[p] != SYNC for p in range(0, len(data), PACKET)):
        raise NotTransportStream("not an MPEG-TS segment")
    try:
        return _split(data)
    except IndexError:  # a table or header that runs past its packet
        raise NotTransportStream("an MPEG-TS segment with a broken table or header") from None


def _split(data: bytes) -> Segment:
    tables, streams = _streams(data)
    tables.add(0)
    audio_pid = next((p for p, t in streams.items() if t == STREAM_AAC), None)
    video_pid = next((p for p, t in streams.items() if t == STREAM_H264), None)
    audio: list[_Pes] = []
    video = bytearray()
    stamps: list[int] = []
    last_at = 0
    for pos in range(0, len(data), PACKET):
        pid = _pid(data, pos)
        start = _payload_at(data, pos)
        unit_start = bool(data[pos + 1] & 0x40)
        if pid == video_pid or pid in tables:
            if pid == video_pid and unit_start and start is not None:
                head = _pes_start(data[start : pos + PACKET])
                if head is None or head[0] is None:  # its time cannot be known, nor moved
                    raise NotTransportStream("a picture without a timestamp")
                stamps.append(head[0])
                last_at = len(video)
            video += data[pos : pos + PACKET]
        elif pid == audio_pid and start is not None:
            payload = data[start : pos + PACKET]
            head = _pes_start(payload) if unit_start else None
            if head is not None:
                audio.append(_Pes(head[0], bytearray(payload[head[1] :])))
            elif audio:
                audio[-1].data += payload
    return Segment(
        audio=b"".join(bytes(p.data) for p in audio),
        audio_pts=audio[0].pts if audio else None,
        video=bytes(video),
        pictures=len(stamps),
        video_pts=stamps[0] if stamps else None,  # the keyframe the segment starts with
        frame_ticks=_interval(stamps),
        last_at=last_at,
    )


def _interval(stamps: list[int]) -> int | None:
    """The picture interval: the commonest step between sorted presentation times."""
    ordered = sorted(stamps)
    steps = collections.Counter(b - a for a, b in itertools.pairwise(ordered) if b > a)
    return steps.most_common(1)[0][0] if steps else None


def retime(packets: bytes, delta: int) -> bytes:
    """The packets with every PCR, PTS and DTS moved by `delta` ticks (mod 2**33). A field
    that would run past its packet is left alone, never written into the next one."""
    out = bytearray(packets)
    for pos in range(0, len(out) - PACKET + 1, PACKET):
        end = pos + PACKET
        control = (out[pos + 3] >> 4) & 0x3
        if control & 2 and out[pos + 4] >= 7 and out[pos + 5] & 0x10:  # a PCR
            at = pos + 6
            base = (int.from_bytes(out[at : at + 4]) << 1) | (out[at + 4] >> 7)
            base = (base + delta) % PTS_WRAP
            out[at : at + 4] = (base >> 1).to_bytes(4)
            out[at + 4] = (out[at + 4] & 0x7F) | ((base & 1) << 7)
        start = _payload_at(out, pos)
        if start is None or not out[pos + 1] & 0x40:
            continue
        for at in _stamps_at(out, start, end):
            if at:
                _write_ts(out, at, _read_ts(out, at) + delta)
    return bytes(out)
