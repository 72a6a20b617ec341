"""One backoff policy for every retry loop: exponential from `base_s`, capped at `max_s`, with
jitter (a random half of each step) so that many clients that failed together do not retry
together. A value with no clock: the loop that uses it decides when to sleep."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # how many tries a bounded loop makes (unbounded loops ignore it)
    base_s: float = 0.25
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: attempt 1 waits about base, then doubles."""
        return min(self.max_s, self.base_s * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)
