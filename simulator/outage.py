"""Outages on cue, for fault tests of whoever calls X:

    POST /_sim/outage?scope=api|media|all&mode=5xx|reset|hang&seconds=N[&rate=R]

For the next N seconds of wall time (at most an hour), a fraction R (default 1) of the requests
in scope fail the chosen way: `5xx` answers 503, `reset` drops the connection without an
answer, `hang` holds the request until the outage is over and then drops it. Scopes: `api` (the
GraphQL and 1.1 endpoints), `media` (HLS playlists and chunks), `all` (both; the Space page and
/_sim/ never fail). `seconds=0` ends it. One outage at a time; a new one replaces the last.
Wall time, not the simulator's clock: an outage lasts what a test waits for, at any --speed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from simulator.query import bounded

MODES = ("5xx", "reset", "hang")
SCOPES = ("api", "media", "all")
MAX_SECONDS = 3600.0
MEDIA_PREFIX = "/Transcoding/"


def in_scope(scope: str, path: str) -> bool:
    if path.startswith(("/_sim/", "/i/spaces/")):
        return False
    media = path.startswith(MEDIA_PREFIX)
    return scope == "all" or (scope == "media") == media


@dataclass(frozen=True)
class Outage:
    scope: str
    mode: str
    until: float  # time.monotonic()
    rate: float

    @classmethod
    def parse(cls, query: dict[str, str]) -> Outage:
        """From the lever's query; ValueError names what is wrong."""
        scope, mode = query.get("scope", "api"), query.get("mode", "5xx")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        seconds = bounded(query, "seconds", 30, 0, MAX_SECONDS)
        rate = bounded(query, "rate", 1, 0, 1)
        return cls(scope, mode, time.monotonic() + seconds, rate)


class Outages:
    def __init__(self, seed: int) -> None:
        self.current: Outage | None = None
        self.served = 0  # requests failed on purpose
        self._rng = random.Random(seed)

    def hits(self, path: str) -> Outage | None:
        o = self.current
        if o is None or time.monotonic() >= o.until or not in_scope(o.scope, path):
            return None
        return o if self._rng.random() < o.rate else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def fail(request: web.Request, outage: Outage) -> web.StreamResponse:
    """Fail one request the outage's way."""
    if outage.mode == "5xx":
        return web.Response(status=503, text="over capacity\n")
    if outage.mode == "hang":
        await asyncio.sleep(max(0.0, outage.until - time.monotonic()))
    if request.transport is not None:
        request.transport.abort()  # no answer at all: the client sees a reset
    raise asyncio.CancelledError  # aiohttp's way to drop a request without a response
