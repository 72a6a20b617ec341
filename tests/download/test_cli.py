"""The interrupts of `spacecast download`, at the seam where they race with the work: a
failure raised on the way out of an interrupt (ffmpeg got the same Ctrl-C, and a write to it
failed before the cancellation landed) is reported as the interrupt, never as a traceback."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from spacecast.download.cli import Terminated, _until_sigterm


async def fails_on_the_way_out() -> None:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        raise RuntimeError("unable to perform operation on <WriteUnixTransport>") from None


async def interrupted(how: str) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    if how == "ctrl-c":  # what asyncio's runner does on SIGINT: cancel the main task
        loop.call_later(0.05, task.cancel)
    else:
        loop.call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
    await _until_sigterm(fails_on_the_way_out())  # type: ignore[arg-type]


def test_ctrl_c_stays_an_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(interrupted("ctrl-c"))


def test_sigterm_stays_a_termination() -> None:
    with pytest.raises(Terminated):
        asyncio.run(interrupted("sigterm"))


def test_a_failure_without_an_interrupt_stays_itself() -> None:
    async def fails() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(_until_sigterm(fails()))  # type: ignore[arg-type]
