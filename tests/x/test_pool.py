"""The pool's assignment of requests to connections: httpcore's order, in one pass."""

from __future__ import annotations

from typing import Any

import httpcore
from httpcore._async.connection_pool import AsyncPoolRequest

from spacecast.x.pool import Pool


class Fake(httpcore.AsyncConnectionInterface):
    """A connection as the pool sees it; counts how often it is asked whether it is idle."""

    asked = 0

    def __init__(self, idle: bool = True, available: bool = True) -> None:
        self.idle, self.available = idle, available

    def is_closed(self) -> bool:
        return False

    def has_expired(self) -> bool:
        return False

    def is_idle(self) -> bool:
        Fake.asked += 1
        return self.idle

    def can_handle_request(self, origin: Any) -> bool:
        return True

    def is_available(self) -> bool:
        return self.available


def pool(connections: list[Fake], *requests: AsyncPoolRequest, keepalive: int = 20) -> Pool:
    made = Pool(max_connections=20, max_keepalive_connections=keepalive)
    made._connections = list(connections)
    made._requests = list(requests)
    return made


def request() -> AsyncPoolRequest:
    return AsyncPoolRequest(httpcore.Request("GET", "https://example.com/chunk.aac"))


def test_a_request_takes_the_first_available_connection_in_one_pass() -> None:
    busy, free = [Fake(idle=False, available=False) for _ in range(10)], Fake()
    idle = [Fake() for _ in range(9)]
    asked = request()
    Fake.asked = 0
    closing = pool([*busy, free, *idle], asked)._assign_requests_to_connections()
    assert asked.connection is free and closing == []
    assert Fake.asked <= 20  # each connection once (httpcore's own asked 240 times here)


def test_idle_connections_beyond_the_keepalive_limit_are_closed() -> None:
    busy, idle = Fake(idle=False), [Fake() for _ in range(5)]
    made = pool([busy, *idle], keepalive=2)
    closing = made._assign_requests_to_connections()
    assert closing == idle[2:] and made._connections == [busy, *idle[:2]]


def test_a_request_waits_when_every_connection_is_busy() -> None:
    busy = [Fake(idle=False, available=False) for _ in range(20)]
    waiting = request()
    made = pool(busy, waiting)
    assert made._assign_requests_to_connections() == [] and waiting.is_queued()
    assert made._connections == busy
