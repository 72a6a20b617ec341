"""The EventPoster: Events hold back while passes wait, but one deadline bounds the holding,
so a queue that never goes quiet cannot starve them (controller/reconcile.py)."""

from __future__ import annotations

import threading
import time
from typing import Any

from controller.reconcile import EventPoster
from tests.wait import wait_for


class Posted:
    """Stands in for Kube: remembers each Event posted."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.lock = threading.Lock()

    def request(self, method: str, path: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        with self.lock:
            self.reasons.append(body["reason"])
        return body


def event(reason: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns"}, "reason": reason}


def test_events_wait_for_a_quiet_queue() -> None:
    kube, busy = Posted(), threading.Event()
    busy.set()
    poster = EventPoster(kube, lambda: True, hold=busy.is_set)  # type: ignore[arg-type]
    poster.post(event("PodCreated"))
    time.sleep(0.5)  # a window in which nothing may happen
    assert kube.reasons == []
    busy.clear()
    wait_for("the Event once the queue is quiet", lambda: kube.reasons == ["PodCreated"], 5)
    poster.close()


def test_a_queue_that_stays_busy_delays_events_by_the_deadline_only() -> None:
    """Once the deadline has passed in a queue that never went quiet, Events flow: a deadline
    per Event would hold each of these for another HOLD_S, two rounds of its threads."""
    kube = Posted()
    poster = EventPoster(kube, lambda: True, hold=lambda: True)  # type: ignore[arg-type]
    poster.HOLD_S = 2.0
    poster.post(event("first"))
    wait_for("the first Event, after the deadline", lambda: kube.reasons == ["first"], 5, 0.05)
    for n in range(2 * EventPoster.THREADS):
        poster.post(event(f"E{n}"))
    wait_for("the rest at once", lambda: len(kube.reasons) == 1 + 2 * EventPoster.THREADS, 1.5)
    poster.close()
