from __future__ import annotations

import io
import itertools
import statistics

import pytest
from mutagen.id3 import ID3

from simulator import audio, id3
from simulator.chunks import FRAME_SECONDS, STRAY_PREFIX, ChunkMaker, Timeline
from simulator.world import hydra_participants


def maker() -> ChunkMaker:
    return ChunkMaker("1OdJrXyZaBcDe", 1, 1_720_190_996.36, audio.speech(), hydra_participants(1))


def tags_and_frames(body: bytes) -> tuple[list[bytes], list[bytes]]:
    """Walk a chunk: ID3 tags and ADTS frames, in order; fail on anything else."""
    tags, frames, pos = [], [], 0
    while pos < len(body):
        if body[pos : pos + 3] == b"ID3":
            size = sum((body[pos + 6 + i] & 0x7F) << (21 - 7 * i) for i in range(4)) + 10
            tags.append(body[pos : pos + size])
            pos += size
        else:
            assert body[pos] == 0xFF and body[pos + 1] & 0xF0 == 0xF0, f"junk at {pos}"
            length = ((body[pos + 3] & 3) << 11) | (body[pos + 4] << 3) | (body[pos + 5] >> 5)
            frames.append(body[pos : pos + length])
            pos += length
    return tags, frames


def test_frame_counts_follow_the_measured_distribution() -> None:
    timeline = Timeline("x")
    counts = [timeline.frames(s) for s in range(1000)]
    assert statistics.mean(counts) * FRAME_SECONDS == pytest.approx(3.0, abs=0.03)
    assert counts.count(141) > counts.count(140) > counts.count(150)


def test_timeline_completion() -> None:
    timeline = Timeline("x")
    assert timeline.complete(0) == 0
    end_of_two = timeline.start_s(2)
    assert timeline.complete(end_of_two - 0.001) == 1
    assert timeline.complete(end_of_two) == 2


def test_chunk_layout_matches_real_chunks() -> None:
    m = maker()
    body = m.body(7)
    tags, frames = tags_and_frames(body)
    assert tags[0] == id3.timestamp_tag(m.pts(7))  # the 73-byte PRIV tag at offset 0
    assert len(frames) == m.timeline.frames(7)
    assert 12 <= len(tags) <= 20  # real chunks carry 16
    assert b"".join(frames) == m.audio(7)
    full = [t for t in tags[1:] if b"TIT3" in t]
    ntps = [float(ID3(io.BytesIO(t))["TIT3"].text[0]) for t in full]
    assert all(abs(b - a - 1.0) < 0.01 for a, b in itertools.pairwise(ntps))
    assert 30_000 < len(body) < 45_000


def test_adts_frames_are_aac_lc_48k_stereo() -> None:
    frame = maker().audio(0)[:7]
    assert frame[0] == 0xFF and frame[1] & 0xF6 == 0xF0
    profile, rate_index = frame[2] >> 6, (frame[2] >> 2) & 0xF
    channels = ((frame[2] & 1) << 2) | (frame[3] >> 6)
    assert (profile, rate_index, channels) == (1, 3, 2)  # LC, 48 kHz, stereo


def test_pts_is_continuous_across_chunks() -> None:
    m = maker()
    for seq in range(50):
        step = (m.pts(seq + 1) - m.pts(seq)) % 2**33
        assert step == m.timeline.frames(seq) * 1920


def test_names_carry_sequence_and_trail_pdt() -> None:
    m = maker()
    names = [m.name(s) for s in range(20)]
    assert all(n.startswith("chunk_") and n.endswith(f"_{s}_a.aac") for s, n in enumerate(names))
    ns = [int(n.split("_")[1]) for n in names]
    steps = [
        (b - a) / 1e9 - m.timeline.duration_s(s) for s, (a, b) in enumerate(itertools.pairwise(ns))
    ]
    assert all(abs(x) <= 0.09 for x in steps)
    assert abs(m.started_at - 5.6 - ns[0] / 1e9) < 0.05


def test_some_chunks_skip_the_leading_hydra_tag_and_stray_bytes_come_first() -> None:
    m = maker()
    second_tag_is_audio = [m.body(s)[73] == 0xFF for s in range(300)]
    assert 0 < sum(second_tag_is_audio) < 20
    assert m.body(3, stray_bytes=True).startswith(STRAY_PREFIX + b"ID3")


def test_chunks_are_deterministic() -> None:
    assert maker().body(11) == maker().body(11)


def test_silenced_frames_are_digital_silence_with_nobody_speaking() -> None:
    m = maker()
    seq = 3
    first, n = m.timeline.first_frame(seq), m.timeline.frames(seq)
    loud = [audio.speech().frame(first + i) for i in range(n)]
    middle = (first + n // 2) * FRAME_SECONDS
    m.silent = lambda t: t >= middle
    _, frames = tags_and_frames(m.body(seq))
    quiet = [audio.silence().frame(first + i) for i in range(n)]
    split = n // 2  # the first frame at or after `middle`
    assert frames == loud[:split] + quiet[split:]
    assert m.audio(seq) == b"".join(loud[:split] + quiet[split:])
    assert not any(level for i in range(split, n) for level in m.levels(first + i))
    assert any(level for i in range(split) for level in m.levels(first + i))
