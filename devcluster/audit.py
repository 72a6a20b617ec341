"""The apiserver's audit log, read back so tests can count what a client did.

Every request is logged at Metadata level (who, verb, resource, response code), one JSON
object per line. Events are written when a request completes, which can be just after the
client saw its response: count with `wait_for_count`, not with a single read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcluster.processes import wait_until

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
# One event per request, when its response is complete.
omitStages: [RequestReceived]
rules:
- level: Metadata
"""


@dataclass(frozen=True)
class AuditEvent:
    raw: dict[str, Any]

    @property
    def user(self) -> str:
        return str(self.raw.get("user", {}).get("username", ""))

    @property
    def verb(self) -> str:
        return str(self.raw.get("verb", ""))

    @property
    def resource(self) -> str:
        return str(self.raw.get("objectRef", {}).get("resource", ""))

    @property
    def namespace(self) -> str:
        return str(self.raw.get("objectRef", {}).get("namespace", ""))

    @property
    def user_agent(self) -> str:
        return str(self.raw.get("userAgent", ""))

    @property
    def code(self) -> int:
        return int(self.raw.get("responseStatus", {}).get("code", 0))

    def matches(self, **want: str | int) -> bool:
        """True when every given attribute (user=, verb=, resource=, ...) is equal."""
        return all(getattr(self, key) == value for key, value in want.items())


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        """A position to count from: events before it are ignored by `events(since=...)`."""
        return self.path.stat().st_size if self.path.exists() else 0

    def events(self, since: int = 0) -> Iterator[AuditEvent]:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(since)
            for line in log:
                if line.endswith(b"\n"):  # a half-written last line is not an event yet
                    yield AuditEvent(json.loads(line))

    def count(self, since: int = 0, **want: str | int) -> int:
        return sum(1 for event in self.events(since) if event.matches(**want))

    def wait_for_count(
        self, expected: int, since: int = 0, timeout: float = 10.0, **want: str | int
    ) -> int:
        """Wait until at least `expected` matching events are logged; return the count."""
        wait_until(
            lambda: self.count(since, **want) >= expected,
            timeout=timeout,
            what=f"{expected} audit events matching {want}",
        )
        return self.count(since, **want)
