"""Stopping a task of our own: its cancellation is absorbed, ours never is."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from spacecast.tasks import cancel_and_wait


async def test_the_tasks_own_cancellation_is_absorbed() -> None:
    child = asyncio.create_task(asyncio.sleep(60))
    await cancel_and_wait(child)
    assert child.cancelled()


async def test_what_the_task_raised_is_raised() -> None:
    async def fails() -> None:
        raise ValueError("broken")

    child = asyncio.create_task(fails())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broken"):
        await cancel_and_wait(child)


async def interrupt_while_stopping(child: Coroutine[Any, Any, None]) -> None:
    """A caller stops `child` with cancel_and_wait and is itself cancelled (a Ctrl-C) 50 ms
    later, while it waits: it must end cancelled, never carry on."""
    carried_on = asyncio.Event()

    async def caller() -> None:
        task = asyncio.create_task(child)
        await asyncio.sleep(0)  # it runs: a task cancelled before its first step never does
        await cancel_and_wait(task)
        carried_on.set()  # what a swallowed cancellation lets happen

    stopping = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert not carried_on.is_set()


async def test_a_cancellation_of_the_caller_meanwhile_is_not_swallowed() -> None:
    """The child takes a while to end."""

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.shield(asyncio.sleep(0.2))

    await interrupt_while_stopping(slow_to_stop())


async def test_a_task_that_swallows_every_cancel_still_leaves_ours() -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(0.1)
                return
            except asyncio.CancelledError:
                continue

    await interrupt_while_stopping(stubborn())
