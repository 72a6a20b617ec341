"""The work queue's contract, on a fake clock."""

from __future__ import annotations

import threading

from controller.queue import WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_waits_once_and_is_never_in_two_hands() -> None:
    q = WorkQueue()
    for _ in range(10):
        q.add("ns/a")
    q.add("ns/b")
    assert q.get(0) == "ns/a" and q.get(0) == "ns/b" and q.get(0) is None
    q.add("ns/a")  # changed again while a worker has it
    assert q.get(0) is None  # not handed to a second worker
    q.done("ns/a")
    assert q.get(0) == "ns/a"  # but worked on again once the first is done


def test_errors_back_off_per_key_and_success_forgets() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    q.add("k")
    delays = []
    for _ in range(4):
        assert q.get(0) == "k"
        delays.append(q.done("k", error=True))
        assert q.get(0) is None  # not before its time
        clock.now += delays[-1]
    assert delays[0] < delays[-1] and q.failures("k") == 4
    assert q.get(0) == "k"
    q.done("k")
    assert q.failures("k") == 0


def test_add_after_keeps_the_earliest_time() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    q.add_after("k", 30)
    q.add_after("k", 5)
    q.add_after("k", 60)
    clock.now = 4.9
    assert q.get(0) is None
    clock.now = 5.0
    assert q.get(0) == "k"
    q.done("k")
    clock.now = 100
    assert q.get(0) is None  # the later times were superseded, not queued twice


def test_a_waiting_worker_wakes_for_new_work_and_on_close() -> None:
    q = WorkQueue()
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(q.get(10)))
    worker.start()
    q.add("k")
    worker.join(5)
    assert got == ["k"]
    worker = threading.Thread(target=lambda: got.append(q.get(10)))
    worker.start()
    q.close()
    worker.join(5)
    assert got == ["k", None] and not worker.is_alive()


def test_the_first_lane_goes_before_the_rest() -> None:
    """New casts (first=True) are handed out before follow-up passes queued earlier; a key
    already queued is not queued twice by a second lane."""
    q = WorkQueue()
    q.add("ns/old-1")
    q.add("ns/new-1", first=True)
    q.add("ns/old-2")
    q.add("ns/new-2", first=True)
    q.add("ns/old-1", first=True)  # already waiting: stays where it is
    assert q.rushing()
    order = [q.get(0), q.get(0)]
    assert order == ["ns/new-1", "ns/new-2"] and not q.rushing()
    assert [q.get(0), q.get(0), q.get(0)] == ["ns/old-1", "ns/old-2", None]
