"""Chunk cleaning on the simulator's byte-faithful chunks, and the pure command builders."""

from __future__ import annotations

import array
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simulator import audio
from simulator.chunks import STRAY_PREFIX, ChunkMaker
from spacecast.download import chunks, join, verify
from spacecast.download.workdir import StoredChunk

from .conftest import adts_frames


@pytest.fixture(scope="module")
def maker() -> ChunkMaker:
    return ChunkMaker("1EndedReplay1", 1, 1_700_000_000.0, audio.speech(), [])


@pytest.mark.parametrize("seq", [0, 1, 7, 42])
def test_clean_keeps_exactly_the_frames(maker: ChunkMaker, seq: int) -> None:
    for stray in (False, True):
        cleaned = chunks.clean(maker.body(seq, stray_bytes=stray))
        assert cleaned.audio == maker.audio(seq)
        assert cleaned.frames == maker.timeline.frames(seq) and cleaned.complete
        assert cleaned.pts == maker.pts(seq) and cleaned.tags >= 10
        assert cleaned.stray == (len(STRAY_PREFIX) if stray else 0)
        assert cleaned.frames == chunks.frames_for(float(maker.timeline.extinf(seq)))


def test_a_cut_short_body_is_incomplete(maker: ChunkMaker) -> None:
    body = maker.body(3)
    assert not chunks.clean(body[: len(body) // 2]).complete


def test_junk_that_looks_like_a_sync_word_is_not_audio(maker: ChunkMaker) -> None:
    cleaned = chunks.clean(b"\xff\xf1\x00\x00\x13" + maker.body(5))
    assert cleaned.audio == maker.audio(5) and cleaned.stray == 5


def test_a_false_header_in_stray_bytes_cannot_swallow_the_timestamp(maker: ChunkMaker) -> None:
    # Stray bytes with a sync word whose length lands exactly on the tag after the PRIV tag.
    priv, rest = maker.pieces(5)[0], b"".join(maker.pieces(5)[1:])
    body = adts_header(0, 3, 1, 7 + 5 + len(priv)) + b"\x00" * 5 + priv + rest
    cleaned = chunks.clean(body)
    assert cleaned.audio == maker.audio(5) and cleaned.pts == maker.pts(5)


# Fuzzing the cleaner over real-shaped chunks --------------------------------------------------

FUZZ_MAKER = ChunkMaker("1EndedReplay1", 1, 1_700_000_000.0, audio.speech(), [])
REAL = (1, 3, 2)  # X's frames: AAC-LC (object type 2, profile field 1), 48 kHz, stereo
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NO_SYNC = st.binary(min_size=0, max_size=48).filter(lambda b: b"\xff" not in b and b"ID3" not in b)


def adts_header(profile: int, rate: int, channels: int, length: int) -> bytes:
    """An MPEG-4 ADTS header without CRC, written here apart from the product's parser."""
    return bytes([
        0xFF, 0xF1, profile << 6 | rate << 2 | channels >> 2,
        (channels & 3) << 6 | length >> 11, (length >> 3) & 0xFF, (length & 7) << 5 | 0x1F, 0xFC,
    ])  # fmt: skip


def is_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


@st.composite
def junk(draw: st.DrawFn, before: bytes) -> bytes:
    """Stray bytes to plant just before `before` (a tag or a frame of the chunk): plain bytes, a
    sync word of another profile, rate or layout whose length lands exactly on `before`, one of
    the chunk's own kind or an ID3 header whose length lands inside `before`."""
    filler = draw(NO_SYNC)
    kind = draw(st.sampled_from(["stray", "foreign", "own", "id3"]))
    if kind == "stray":
        return filler
    if kind == "foreign":
        fields = draw(st.tuples(st.integers(0, 3), st.integers(0, 12), st.integers(0, 7)))
        assume(fields != REAL)
        return adts_header(*fields, 7 + len(filler)) + filler
    into = draw(st.integers(1, len(before) - 1))  # lands inside `before`, not on a boundary
    assume(before[into] != 0xFF and not before.startswith(b"ID3", into))
    if kind == "own":
        return adts_header(*REAL, 7 + len(filler) + into) + filler
    size = len(filler) + into
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + synchsafe + filler


@FUZZ
@given(seq=st.integers(0, 40), data=st.data())
def test_fuzz_junk_before_the_first_tag_is_dropped_exactly(seq: int, data: st.DataObject) -> None:
    pieces = FUZZ_MAKER.pieces(seq)
    planted = data.draw(junk(pieces[0]))
    cleaned = chunks.clean(planted + b"".join(pieces))
    assert cleaned.audio == FUZZ_MAKER.audio(seq) and cleaned.pts == FUZZ_MAKER.pts(seq)
    assert cleaned.complete and cleaned.stray >= len(planted)


@FUZZ
@given(seq=st.integers(0, 40), data=st.data())
def test_fuzz_junk_anywhere_never_becomes_audio(seq: int, data: st.DataObject) -> None:
    pieces = FUZZ_MAKER.pieces(seq)
    at = sorted(data.draw(st.sets(st.integers(0, len(pieces) - 1), min_size=1, max_size=4)))
    body = b"".join(
        (data.draw(junk(piece)) if i in at else b"") + piece for i, piece in enumerate(pieces)
    )
    cleaned = chunks.clean(body)
    real = adts_frames(FUZZ_MAKER.audio(seq))
    kept = adts_frames(cleaned.audio)
    # Junk costs at most the frame just before it (nothing vouches for that frame any more).
    assert is_subsequence(kept, real) and len(kept) >= len(real) - len(at)
    assert cleaned.pts == FUZZ_MAKER.pts(seq) and cleaned.frames == len(kept)


@FUZZ
@given(seq=st.integers(0, 40), data=st.data())
def test_fuzz_a_cut_short_body_keeps_a_prefix_and_says_so(seq: int, data: st.DataObject) -> None:
    pieces = FUZZ_MAKER.pieces(seq)
    body = b"".join(pieces)
    cut = data.draw(st.integers(0, len(body) - 1))
    cleaned = chunks.clean(body[:cut])
    assert FUZZ_MAKER.audio(seq).startswith(cleaned.audio)
    boundaries = {sum(len(p) for p in pieces[:i]) for i in range(len(pieces))}
    assert cleaned.complete == (cut in boundaries)


def stored(seq: int, frames: int, pts: int | None) -> StoredChunk:
    return StoredChunk(seq, frames, pts, round(frames * 1024 / 48000, 3), 0)


def test_plan_measures_holes_by_pts() -> None:
    have = {0: stored(0, 141, 0), 1: stored(1, 140, 141 * 1920), 4: stored(4, 141, 0)}
    # Chunks 2 and 3 held 136 + 145 frames: PTS of 4 = PTS of 1 + (140 + 136 + 145) frames.
    have[4] = stored(4, 141, (141 + 140 + 136 + 145) * 1920)
    slots = join.plan({}, have)
    assert slots[:2] == [0, 1] and slots[3] == 4
    assert slots[2] == join.Gap(2, 3, 136 + 145)


def test_plan_falls_back_on_extinf_then_typical_length() -> None:
    have = {0: stored(0, 141, None), 3: stored(3, 141, None)}
    assert join.plan({1: 3.008, 2: 2.987}, have)[1] == join.Gap(1, 2, 141 + 140)
    assert join.plan({}, have)[1] == join.Gap(1, 2, 2 * 141)


def test_commands_are_data() -> None:
    cmd = join.remux_command(Path("/o/x.part"))
    assert cmd[:1] == ["ffmpeg"] and cmd[cmd.index("-i") + 1] == "pipe:0"
    assert cmd[cmd.index("-c") + 1] == "copy" and cmd[-1] == "/o/x.part"
    assert "-count_packets" in verify.probe_command(Path("a.aac"), count_packets=True)
    assert "format=duration" in verify.probe_command(Path("a.m4a"), count_packets=False)


def test_silent_frame_decodes_to_silence() -> None:
    """Ten of the frames that fill gaps, decoded: 48 kHz stereo, 1024 samples each, all zero."""
    frame = join.silent_frame()
    pcm = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "aac", "-i", "pipe:0",
         "-f", "s16le", "-acodec", "pcm_s16le", "-ar", "48000", "-ac", "2", "pipe:1"],
        input=frame * 10, capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = array.array("h", pcm)
    assert len(samples) == 10 * 1024 * 2
    assert max(map(abs, samples)) == 0
