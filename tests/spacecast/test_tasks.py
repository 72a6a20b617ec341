"""Stopping a task of our own: its cancellation is absorbed, ours never is."""

from __future__ import annotations

import asyncio

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


async def test_a_cancellation_of_the_caller_meanwhile_is_not_swallowed() -> None:
    """The child takes a while to end; the caller is cancelled (a Ctrl-C) while it waits."""
    carried_on = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.shield(asyncio.sleep(0.2))

    async def caller() -> None:
        child = asyncio.create_task(slow_to_stop())
        await asyncio.sleep(0)
        await cancel_and_wait(child)
        carried_on.set()  # what a swallowed cancellation lets happen

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not carried_on.is_set()


async def test_a_task_that_swallows_every_cancel_still_leaves_ours() -> None:
    carried_on = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(0.1)
                return
            except asyncio.CancelledError:
                continue

    async def caller() -> None:
        child = asyncio.create_task(stubborn())
        await asyncio.sleep(0)  # it runs: a task cancelled before its first step never does
        await cancel_and_wait(child)
        carried_on.set()

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not carried_on.is_set()
