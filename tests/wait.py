"""Waiting on a condition, for tests of real processes: never a fixed sleep.

`until` is for async tests, on state that offers no event to wait on (a peer's close seen by
an idle stream, a background task's progress)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


def wait_for(what: str, check: Callable[[], Any], seconds: float = 60, every: float = 0.25) -> Any:
    """Poll a condition until it holds (returning its value) or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


async def until(condition: Callable[[], object], within_s: float = 10.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await asyncio.sleep(0.01)
