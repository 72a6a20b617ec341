"""The simulator's clock: wall time that can run faster than real time, or be stepped by tests."""

from __future__ import annotations

import time


class SimClock:
    """Simulated epoch seconds. At speed s, one real second is s simulated seconds.

    `advance` jumps ahead without waiting, so tests reach "the Space has ended" at once.
    """

    def __init__(self, speed: float = 1.0, origin: float | None = None) -> None:
        self.speed = speed
        self._origin = time.time() if origin is None else origin
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._t0) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds
