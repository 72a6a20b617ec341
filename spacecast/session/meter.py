"""The audio meter: the sink's monitor as 8 kHz samples (parec), turned into a mean level in
dBFS over a short window. "Silent for N seconds" is measured here, not assumed."""

from __future__ import annotations

import array
import asyncio
import math
import time
from collections import deque

from spacecast.session import commands, metrics
from spacecast.session.process import ManagedProcess

BLOCK_SECONDS = 0.1
BLOCK_BYTES = int(commands.METER_RATE * BLOCK_SECONDS) * 2
FLOOR_DB = metrics.AUDIO_FLOOR_DB


def mean_square(block: bytes) -> float:
    samples = array.array("h", block)
    return sum(s * s for s in samples) / max(1, len(samples)) / 32768.0**2


def to_db(power: float) -> float:
    return 10 * math.log10(power) if power > 0 else FLOOR_DB


class LevelWindow:
    """Mean level over the last `seconds`, and how long it has stayed below a threshold."""

    def __init__(self, seconds: float, threshold_db: float) -> None:
        self._blocks: deque[float] = deque(maxlen=max(1, round(seconds / BLOCK_SECONDS)))
        self.threshold_db = threshold_db
        self._quiet_since: float | None = None
        self.last_update = 0.0

    def add(self, power: float, now: float) -> None:
        self._blocks.append(power)
        self.last_update = now
        if self.level_db < self.threshold_db:
            self._quiet_since = self._quiet_since or now
        else:
            self._quiet_since = None

    @property
    def level_db(self) -> float:
        return (
            max(FLOOR_DB, to_db(sum(self._blocks) / len(self._blocks)))
            if self._blocks
            else FLOOR_DB
        )

    def silent_for(self, now: float) -> float:
        return now - self._quiet_since if self._quiet_since is not None else 0.0


class Meter(ManagedProcess):
    name = "meter"
    stdout_is_data = True

    def __init__(
        self, sink: str, socket: str, window_seconds: float, threshold_db: float,
        stall_seconds: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__(lambda: commands.meter(sink, socket))
        self.stall_seconds = stall_seconds  # parec's samples must keep coming
        self.window = LevelWindow(window_seconds, threshold_db)
        self._reader: asyncio.Task[None] | None = None

    async def attached(self, proc: asyncio.subprocess.Process) -> None:
        self._reader = asyncio.create_task(self._read(proc))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                block = await proc.stdout.readexactly(BLOCK_BYTES)
            except asyncio.IncompleteReadError:
                return
            self.window.add(mean_square(block), time.monotonic())
            self.progressed()
            metrics.AUDIO_LEVEL.set(round(self.window.level_db, 1))
