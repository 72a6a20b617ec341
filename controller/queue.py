"""The work queue: keys (`namespace/name`), not events, as client-go's workqueue holds them.

- A key waits in the queue at most once: ten events before a worker is free make one pass,
  which reads the current objects from the caches (level-triggered).
- A key is never in two workers' hands at once: one added while it is being worked on is
  marked dirty and queued again when that work is done.
- `add_after` keeps only the earliest time per key (a backoff or a timer).
- Two lanes: `add(key, first=True)` puts a key ahead of the rest (a cast not seen before,
  which waits for its pod). In a burst of a thousand new casts every pod goes out before any
  status write or follow-up pass, so the last cast gets its pod as soon as the apiserver can
  take them. The other lane waits only while the first has keys: a burst is finite.
- `done(key, error)` is the whole retry policy, so no caller can forget half of it: on success
  the key's failure count is cleared; on an error the key comes back after a per-key
  exponential backoff (`spacecast.backoff`), bounded below by a global rate (token bucket).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable

from spacecast.backoff import RetryPolicy

# client-go's defaults: per item 5 ms doubling to 1000 s; overall 10 per second, burst 100.
PER_KEY = RetryPolicy(base_s=0.005, max_s=1000.0)
RATE_PER_S, BURST = 10.0, 100


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._first: deque[str] = deque()  # keys to hand out before...
        self._ready: deque[str] = deque()  # ...these, each FIFO
        self._queued: set[str] = set()  # keys in either
        self._working: set[str] = set()
        self._dirty: set[str] = set()  # added while being worked on
        self._later: list[tuple[float, str]] = []  # heap of (when, key)
        self._when: dict[str, float] = {}  # each key's earliest time in _later
        self._failures: dict[str, int] = {}
        self._tokens, self._refilled = float(BURST), clock()
        self._closed = False

    def add(self, key: str, first: bool = False) -> None:
        with self._cond:
            self._add(key, first)

    def _add(self, key: str, first: bool = False) -> None:
        if key in self._working:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            (self._first if first else self._ready).append(key)
            self._cond.notify()

    def add_after(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return self.add(key)
        with self._cond:
            when = self._clock() + seconds
            if self._when.get(key, float("inf")) <= when:
                return None
            self._when[key] = when
            heapq.heappush(self._later, (when, key))
            self._cond.notify()
        return None

    def _promote(self) -> float | None:
        """Move keys whose time has come to the ready list; seconds until the next one."""
        now = self._clock()
        while self._later:
            when, key = self._later[0]
            if self._when.get(key) != when:  # superseded by an earlier time
                heapq.heappop(self._later)
                continue
            if when > now:
                return when - now
            heapq.heappop(self._later)
            del self._when[key]
            self._add(key)
        return None

    def get(self, timeout: float | None = None) -> str | None:
        """The next key to work on (the caller must call `done`), or None on timeout/close."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                wait = self._promote()
                if self._closed:
                    return None
                if lane := self._first or self._ready:
                    key = lane.popleft()
                    self._queued.discard(key)
                    self._working.add(key)
                    return key
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: str, error: bool = False, requeue_after: float | None = None) -> float:
        """Finish `key`. On error it comes back after its backoff; otherwise its failures are
        forgotten, and it comes back after `requeue_after` if given. Returns the delay used."""
        with self._cond:
            self._working.discard(key)
            delay = -1.0
            if error:
                self._failures[key] = self._failures.get(key, 0) + 1
                delay = max(PER_KEY.delay(self._failures[key]), self._rate_delay())
            else:
                self._failures.pop(key, None)
                if requeue_after is not None:
                    delay = requeue_after
            if key in self._dirty:
                self._dirty.discard(key)
                self._add(key)
        if delay >= 0:
            self.add_after(key, delay)
        return delay

    def _rate_delay(self) -> float:
        """The global bucket's wait for one more retry (the caller holds the lock)."""
        now = self._clock()
        self._tokens = min(BURST, self._tokens + (now - self._refilled) * RATE_PER_S)
        self._refilled = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / RATE_PER_S

    def failures(self, key: str) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def depth(self) -> int:
        with self._cond:
            return len(self._first) + len(self._ready) + len(self._when)

    def rushing(self) -> bool:
        """Whether keys wait in the first lane (a burst of new casts)."""
        with self._cond:
            return bool(self._first)

    def busy(self) -> bool:
        """Whether any key waits to be handed out now."""
        with self._cond:
            return bool(self._first or self._ready)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
