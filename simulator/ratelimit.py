"""X's rate-limit headers and 429s: a fixed 15-minute window per (caller, endpoint), plus the
optional bursts of 429 that the fault knobs ask for."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WINDOW_S = 900.0
RATE_LIMITED = {"errors": [{"code": 88, "message": "Rate limit exceeded."}]}


@dataclass
class Verdict:
    allowed: bool
    headers: dict[str, str]


@dataclass
class RateLimiter:
    limit: int
    burst_every: int = 0
    burst_length: int = 3
    burst_reset_s: float = 2.0
    _used: dict[tuple[str, str, int], int] = field(default_factory=dict)
    _calls: int = 0
    _burst_left: int = 0
    _burst_until: float = 0.0

    def check(self, who: str, endpoint: str, now: float) -> Verdict:
        window = int(now // WINDOW_S)
        key = (who, endpoint, window)
        used = self._used.get(key, 0) + 1
        self._used[key] = used
        reset = (window + 1) * WINDOW_S
        self._calls += 1
        if self.burst_every and self._calls % self.burst_every == 0:
            self._burst_left, self._burst_until = self.burst_length, now + self.burst_reset_s
        if self._burst_left:
            self._burst_left -= 1
            return Verdict(False, self._headers(0, self._burst_until))
        return Verdict(used <= self.limit, self._headers(max(0, self.limit - used), reset))

    def _headers(self, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(math.ceil(reset)),
        }
