"""The process state machine with real processes: restart with backoff, exit callback, and a
teardown that reaches the whole process group."""

from __future__ import annotations

import asyncio

from spacecast.backoff import RetryPolicy
from spacecast.session.commands import Command
from spacecast.session.process import ManagedProcess, ProcState
from tests.procfs import all_stat_fields


class Quick(ManagedProcess):
    name = "quick"
    restart_policy = RetryPolicy(base_s=0.05, max_s=0.2)


async def test_a_dying_process_is_restarted_and_reported() -> None:
    exits: list[int] = []
    two = asyncio.Event()

    def exited() -> None:
        exits.append(1)
        if len(exits) >= 2:
            two.set()

    proc = Quick(lambda: Command(argv=["sh", "-c", "sleep 0.1; exit 3"]), on_exit=exited)
    await proc.start()
    await asyncio.wait_for(two.wait(), 10)
    await proc.stop()
    assert proc.restarts >= 1 and proc.state is ProcState.STOPPED


async def test_stop_reaches_the_whole_group() -> None:
    proc = Quick(lambda: Command(argv=["sh", "-c", "sleep 60 & wait"]))
    await proc.start()
    assert proc.proc is not None
    group = proc.proc.pid
    assert _living_in(group)  # sh and its sleep
    await proc.stop()
    assert _living_in(group) == []  # the grandchild went with it (zombies aside)


def _living_in(group: int) -> list[int]:
    return [
        pid
        for pid, fields in all_stat_fields().items()
        if int(fields[2]) == group and fields[0] != "Z"  # pgrp, state
    ]


async def test_before_its_first_output_a_process_has_the_longer_grace() -> None:
    """A cold start (libraries to load, inputs to open) is not a stall."""
    proc = Quick(lambda: Command(argv=["sleep", "60"]))
    proc.stall_seconds, proc.first_output_grace_s = 0.2, 1.0
    await proc.start()
    try:
        started = proc.progress_at or 0.0
        assert proc.stalled_for(started + 0.5) == 0.0  # past stall_seconds, within the grace
        assert proc.stalled_for(started + 1.5) > 1.0  # never produced at all: stalled
        proc.progressed()
        assert proc.stalled_for((proc.progress_at or 0.0) + 0.5) > 0.2  # from now on, the short
    finally:
        await proc.stop()


async def test_a_process_without_progress_is_stalled_and_killed_into_a_restart() -> None:
    proc = Quick(lambda: Command(argv=["sleep", "60"]))
    proc.stall_seconds = 0.2
    await proc.start()
    try:
        assert proc.stalled_for(asyncio.get_running_loop().time()) == 0.0  # just started
        first = proc.proc
        await asyncio.sleep(0.3)
        proc.progressed()  # output moved: not stalled
        now = proc.progress_at or 0.0
        assert proc.stalled_for(now + 0.1) == 0.0 and proc.stalled_for(now + 0.5) > 0.2
        proc.kill_stalled(0.5)
        for _ in range(100):
            if proc.proc is not first and proc.state is ProcState.RUNNING:
                break
            await asyncio.sleep(0.05)
        assert proc.proc is not first and proc.stalls == 1 and proc.restarts == 1
    finally:
        await proc.stop()
