"""One backoff policy for every retry loop: exponential from `base_s`, capped at `max_s`, with
jitter (a random half of each step) so that many clients that failed together do not retry
together. `RetryPolicy` is a value with no clock: the loop that uses it decides when to sleep.

`Backoff` is a restart loop's state under a policy. Its count of failures is forgotten only
after the thing stayed up for `healthy_s`: a process that dies at once, or an ingest that
accepts and drops every few seconds, waits longer and longer instead of retrying every second,
and `failing_since` (the first failure since the last healthy stretch) is what a bounded retry
window measures, so a flapping peer still reaches the end of its window.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8  # how many tries a bounded loop makes (unbounded loops ignore it)
    base_s: float = 0.25
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: attempt 1 waits about base, then doubles."""
        return min(self.max_s, self.base_s * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


HEALTHY_S = 20.0  # up this long, a process or connection has proven itself


@dataclass
class Backoff:
    policy: RetryPolicy
    healthy_s: float = HEALTHY_S
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    failures: int = 0  # since the last healthy stretch
    failing_since: float | None = None  # the first of them
    _up_since: float | None = None

    def up(self) -> None:
        """It started: spawned and ready, connected and publishing."""
        self._up_since = self.clock()

    def down(self) -> float:
        """It failed (or its start did): the seconds to wait before the next try."""
        now = self.clock()
        if self._up_since is not None and now - self._up_since >= self.healthy_s:
            self.failures, self.failing_since = 0, None  # it had proven itself: a fresh start
        self._up_since = None
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        return self.policy.delay(self.failures)

    def failing_for(self) -> float:
        """Seconds since the first failure after the last healthy stretch (0: none)."""
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since
