"""The output written while chunks arrive: in sequence order, through real ffmpeg for m4a, and
rewritten from the top when the final plan starts earlier than the streamed part."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import audio
from simulator.chunks import ChunkMaker
from spacecast.download import join, verify
from spacecast.download.output import Joiner, RemuxFailed
from spacecast.download.workdir import StoredChunk, WorkDir, atomic_target, remove_stale_parts
from tests.wait import until


@pytest.fixture(scope="module")
def maker() -> ChunkMaker:
    return ChunkMaker("1EndedReplay1", 1, 1_700_000_000.0, audio.speech(), [])


def store(work: WorkDir, maker: ChunkMaker, seq: int) -> None:
    frames = maker.timeline.frames(seq)
    chunk = StoredChunk(seq, frames, maker.pts(seq), float(maker.timeline.extinf(seq)), 0)
    work.put(chunk, maker.audio(seq))


async def test_chunks_go_out_in_order_as_they_arrive(tmp_path: Path, maker: ChunkMaker) -> None:
    work = WorkDir(tmp_path / "work", "space")
    joiner = Joiner(work, "aac", tmp_path / "out.aac")
    await joiner.begin(0)
    for seq in (1, 2, 0):  # out of order: chunks 1 and 2 wait for chunk 0
        store(work, maker, seq)
        joiner.stored()
    await until(lambda: joiner.next == 3)
    store(work, maker, 4)
    joiner.stored()
    frames = await joiner.finish(join.plan({}, work.stored), fill=False)
    assert (tmp_path / "out.aac").read_bytes() == b"".join(maker.audio(s) for s in (0, 1, 2, 4))
    assert frames == sum(maker.timeline.frames(s) for s in (0, 1, 2, 4))


async def test_a_plan_starting_earlier_rewrites_from_the_top(
    tmp_path: Path, maker: ChunkMaker
) -> None:
    work = WorkDir(tmp_path / "work", "space")
    joiner = Joiner(work, "aac", tmp_path / "out.aac")
    await joiner.begin(5)
    for seq in (5, 6):
        store(work, maker, seq)
        joiner.stored()
    await until(lambda: joiner.next == 7)
    for seq in (3, 4):  # older chunks turn up after streaming began
        store(work, maker, seq)
    await joiner.finish(join.plan({}, work.stored), fill=False)
    assert (tmp_path / "out.aac").read_bytes() == b"".join(maker.audio(s) for s in range(3, 7))


async def test_m4a_through_ffmpeg_with_silence_in_a_hole(tmp_path: Path, maker: ChunkMaker) -> None:
    work = WorkDir(tmp_path / "work", "space")
    joiner = Joiner(work, "m4a", tmp_path / "out.m4a")
    await joiner.begin(0)
    for seq in (0, 1, 3):
        store(work, maker, seq)
        joiner.stored()
    slots = join.plan({2: float(maker.timeline.extinf(2))}, work.stored)
    assert isinstance(slots[2], join.Gap)
    frames = await joiner.finish(slots, fill=True)
    assert frames == sum(maker.timeline.frames(s) for s in range(4))
    duration = verify.container_duration(tmp_path / "out.m4a")
    assert duration == pytest.approx(frames * 1024 / 48_000, abs=0.03)


async def test_ffmpeg_failing_is_an_error_not_a_short_file(
    tmp_path: Path, maker: ChunkMaker
) -> None:
    work = WorkDir(tmp_path / "work", "space")
    joiner = Joiner(work, "m4a", tmp_path / "missing-dir" / "out.m4a")  # ffmpeg cannot open it
    await joiner.begin(0)
    store(work, maker, 0)
    with pytest.raises(RemuxFailed, match="ffmpeg"):
        await joiner.finish(join.plan({}, work.stored), fill=False)


def test_parts_of_dead_downloads_are_removed_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "a [1].m4a"  # glob characters in the name are taken literally
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".{target.name}.{dead.pid}.part"
    alive = tmp_path / f".{target.name}.{os.getpid()}.part"
    other = tmp_path / ".other.m4a.1.part"
    for path in (stale, alive, other):
        path.write_bytes(b"x")
    remove_stale_parts(target)
    assert not stale.exists() and alive.exists() and other.exists()
    alive.unlink()
    with atomic_target(target) as part:
        part.write_bytes(b"done")
    assert target.read_bytes() == b"done" and sorted(tmp_path.iterdir()) == [other, target]
