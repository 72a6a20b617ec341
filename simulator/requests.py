"""What the simulator was asked, for tests that must show a fault was really served: a count
per (route, status) and a bounded log of recent requests with the time they arrived and, for a
429, the reset time it advertised. Read at /_sim/requests; /_sim/ itself is not counted."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

LOG_SIZE = 5000


@dataclass(frozen=True)
class Served:
    at: float  # the simulator's clock (epoch seconds) when the request arrived
    method: str
    path: str
    route: str  # the route's template, e.g. /i/api/graphql/{qid}/{operation}
    status: int
    reset: float | None = None  # x-rate-limit-reset, when the answer carried one


@dataclass
class RequestLog:
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    recent: deque[Served] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))

    def add(self, served: Served) -> None:
        self.counts[(served.route, served.status)] += 1
        self.recent.append(served)

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": [
                {"route": route, "status": status, "count": n}
                for (route, status), n in sorted(self.counts.items())
            ],
            "recent": [asdict(s) for s in self.recent],
        }
