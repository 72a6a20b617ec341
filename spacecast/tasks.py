"""Stopping a task of our own without swallowing our own cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it has ended; what it raised, other than the cancellation
    asked for here, is raised.

    `task.cancel(); with suppress(CancelledError): await task` is the usual idiom, and it is
    wrong: a cancellation of the caller that lands during that await (a Ctrl-C) is swallowed with
    the task's own, and the caller carries on as if it had never been interrupted. The caller's
    count of pending cancellations tells the two apart.
    """
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Ours came meanwhile, whether the task ended cancelled or swallowed it and returned.
    if current is not None and current.cancelling() > before:
        raise asyncio.CancelledError
