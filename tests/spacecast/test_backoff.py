"""The one backoff policy and a restart loop's state under it (spacecast/backoff.py), on a
fake clock."""

from __future__ import annotations

from spacecast.backoff import Backoff, RetryPolicy

POLICY = RetryPolicy(base_s=1.0, max_s=8.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_delays_double_to_the_cap_with_jitter() -> None:
    for attempt, top in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delay = POLICY.delay(attempt)
        assert top / 2 <= delay <= top


def test_a_crash_loop_keeps_backing_off_and_a_healthy_stretch_resets() -> None:
    clock = Clock()
    b = Backoff(POLICY, healthy_s=20.0, clock=clock)
    for expected in (1, 2, 3, 4):  # up for a second each time: no reset
        b.up()
        clock.now += 1
        b.down()
        assert b.failures == expected
    assert b.failing_since == 101.0
    clock.now += 5
    assert b.failing_for() == 8.0  # since the first failure, through every short start
    b.up()
    clock.now += 20  # proven
    assert b.down() <= 1.0 and b.failures == 1 and b.failing_since == clock.now


def test_a_failed_start_counts_as_a_failure() -> None:
    clock = Clock()
    b = Backoff(POLICY, clock=clock)
    assert b.down() <= 1.0 and b.down() <= 2.0 and b.failures == 2
    assert b.failing_since == 100.0
