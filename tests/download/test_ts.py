"""The MPEG-TS splitter and restamper on the simulator's real segments, on crafted packets at
the edges of the format, and on hypothesis's bytes: nothing but NotTransportStream ever comes
out of a bad body, and a restamp never writes outside the field it moves."""

from __future__ import annotations

import asyncio
import contextlib
import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.camera import Card, segment, video_pts
from simulator.chunks import ChunkMaker
from simulator.settings import SimulatorSettings
from simulator.world import World
from spacecast.download import chunks, ts

CARD = Card(426, 240, "cam_host")


@functools.cache
def camera_maker() -> ChunkMaker:
    world = World(SimulatorSettings(space=["kind=camera,id=1CameraTsTest,start=-60"]))
    return next(iter(world.entries.values())).chunks


@functools.cache
def real_segment(seq: int) -> bytes:
    return asyncio.run(segment(camera_maker(), seq, CARD))


@pytest.mark.parametrize("seq", [0, 3, 7])
def test_a_segment_splits_into_its_sound_and_pictures(seq: int) -> None:
    maker = camera_maker()
    found = ts.split(real_segment(seq))
    assert chunks.clean(found.audio).audio == maker.audio(seq)  # every frame, bit for bit
    assert found.audio_pts == maker.pts(seq)
    assert found.video_pts == video_pts(maker, seq)
    assert (found.pictures, found.frame_ticks) == (90, 3000)
    assert len(found.video) % ts.PACKET == 0 and found.video[0] == ts.SYNC
    less = found.less_the_last_picture()
    assert less.pictures == 89 and len(less.video) < len(found.video)


@pytest.mark.parametrize("delta", [1, -1200, 2**33 - 5, 123_456_789])
def test_retime_moves_every_stamp_by_delta(delta: int) -> None:
    before = ts.split(real_segment(2))
    after = ts.split(ts.retime(real_segment(2), delta))
    assert after.video_pts == (before.video_pts + delta) % ts.PTS_WRAP  # type: ignore[operator]
    assert after.audio_pts == (before.audio_pts + delta) % ts.PTS_WRAP  # type: ignore[operator]
    assert after.audio == before.audio and after.pictures == before.pictures
    assert ts.retime(ts.retime(real_segment(2), delta), -delta) == real_segment(2)


def pes_packet(pid: int, pes_at: int) -> bytearray:
    """A packet whose payload, after an adaptation field of stuffing, is a PES header with a
    PTS and a DTS starting `pes_at` bytes in: at the end of the packet it cannot hold them."""
    packet = bytearray(b"\xff" * ts.PACKET)
    packet[0:4] = bytes([ts.SYNC, 0x40 | pid >> 8, pid & 0xFF, 0x30])
    packet[4] = pes_at - 5  # adaptation field length
    packet[5] = 0x00
    header = b"\x00\x00\x01\xe0\x00\x00\x80\xc0\x0a" + b"\x31\x00\x01\x00\x01" * 2
    packet[pes_at : pes_at + len(header)] = header[: ts.PACKET - pes_at]
    return packet


@pytest.mark.parametrize("pes_at", [170, 175, 180, 183])
def test_a_stamp_that_would_run_past_its_packet_is_left_alone(pes_at: int) -> None:
    neighbour = pes_packet(0x100, 10)
    data = bytes(pes_packet(0x101, pes_at) + neighbour)
    moved = ts.retime(data, 12345)
    assert moved[ts.PACKET :] != bytes(neighbour)  # the neighbour's own stamps do move...
    assert moved[ts.PACKET : ts.PACKET + 10] == bytes(neighbour[:10])  # ...its header never
    assert moved[:pes_at] == data[:pes_at]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x47" + b"\x00" * 186,  # not whole packets
        b"\x48" + b"\x00" * 187,  # no sync byte
        bytes([0x47, 0x40, 0x00, 0x10, 200]) + b"\x00" * 183,  # a PAT pointing past its packet
        bytes([0x47, 0x40, 0x00, 0x30, 182]) + b"\x00" * 183,  # a field leaving 1 byte
    ],
    ids=["empty", "partial", "no sync", "PAT past its end", "tiny payload"],
)
def test_a_bad_body_is_not_a_transport_stream(body: bytes) -> None:
    try:
        found = ts.split(body)
    except ts.NotTransportStream:
        return
    assert (found.audio, found.pictures) == (b"", 0)  # or nothing usable in it


def packets(data: st.DataObject) -> bytes:
    """Whole packets of anything, each starting with the sync byte: past the first check."""
    count = data.draw(st.integers(1, 6))
    body = bytearray(data.draw(st.binary(min_size=count * ts.PACKET, max_size=count * ts.PACKET)))
    for pos in range(0, len(body), ts.PACKET):
        body[pos] = ts.SYNC
    return bytes(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_split_and_retime_never_fail_otherwise(data: st.DataObject) -> None:
    body = packets(data)
    with contextlib.suppress(ts.NotTransportStream):
        ts.split(body)
    moved = ts.retime(body, data.draw(st.integers(-(2**33), 2**33)))
    assert len(moved) == len(body)
    assert all(moved[p] == ts.SYNC for p in range(0, len(moved), ts.PACKET))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fuzz_a_real_segment_cut_anywhere(data: st.DataObject) -> None:
    """A body cut at any packet, or with bytes flipped in its tables, splits or is refused."""
    body = bytearray(real_segment(5))
    cut = data.draw(st.integers(1, len(body) // ts.PACKET)) * ts.PACKET
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, cut - 1))
        if at % ts.PACKET:
            body[at] = data.draw(st.integers(0, 255))
    try:
        found = ts.split(bytes(body[:cut]))
    except ts.NotTransportStream:
        return
    assert found.pictures <= 90 and len(found.video) <= cut
