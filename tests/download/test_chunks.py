"""Chunk cleaning on the simulator's byte-faithful chunks, and the pure command builders."""

from __future__ import annotations

import array
import subprocess
from pathlib import Path

import pytest

from simulator import audio
from simulator.chunks import STRAY_PREFIX, ChunkMaker
from spacecast.download import chunks, join, verify
from spacecast.download.workdir import StoredChunk


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
