"""The session's view of the Space through X's API: wait for it to start, follow its state, and
find its HLS stream for the rescue. The page's own responses tell the browser the same things;
this is the fallback that needs no page (and the judge of "ended")."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from spacecast.backoff import Backoff, RetryPolicy
from spacecast.logs import get_logger
from spacecast.session import metrics
from spacecast.settings import XSettings
from spacecast.x import connect
from spacecast.x.auth import Cookies, load_cookies
from spacecast.x.errors import XError
from spacecast.x.models import SpaceMetadata

log = get_logger("session.x")
STATES = ("NotStarted", "Running", "Ended")
# X out of reach (a timeout, a reset, a 5xx) while the cast runs: ask again sooner than the poll
# interval at first, never faster than this policy, and never end the cast over it.
RETRY = RetryPolicy(base_s=1.0, max_s=10.0)
TRANSIENT = (XError, httpx.HTTPError, OSError)


class SpaceWatch:
    def __init__(
        self, space: str, x: XSettings, cookies_file: str | None, poll_seconds: float
    ) -> None:
        self.x = x
        self.space_id = connect.space_id(space, x)
        self.cookies: Cookies | None = load_cookies(Path(cookies_file)) if cookies_file else None
        self.poll_seconds = poll_seconds
        self.http = connect.http_client(x)
        self.client = connect.api_client(self.http, x, self.cookies)
        self.meta: SpaceMetadata | None = None
        self._poller: asyncio.Task[None] | None = None
        self._nudged = asyncio.Event()

    @property
    def page_url(self) -> str:
        return f"{self.x.x_base_url.rstrip('/')}/i/spaces/{self.space_id}"

    @property
    def running(self) -> bool:
        return bool(self.meta and self.meta.running)

    @property
    def ended(self) -> bool:
        return bool(self.meta and (self.meta.ended or self.meta.canceled))

    async def refresh(self) -> SpaceMetadata:
        """Ask X once. Not found and refused credentials are fatal (UserError) the first time."""
        self.meta = await self.client.space(self.space_id)
        state = (
            self.meta.state if self.meta.state in STATES else ("Ended" if self.ended else "Unknown")
        )
        metrics.SPACE_STATE.state(state)
        return self.meta

    async def wait_until_running(self, stop: asyncio.Event) -> bool:
        """True once the Space runs; False if it ended first or we were asked to stop."""
        await self.refresh()  # the first answer decides: no such Space, refused cookies
        while self.meta is not None and self.meta.not_started and not stop.is_set():
            log.info("waiting for the Space to start", space=self.space_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            try:
                await self.refresh()
            except TRANSIENT as exc:  # it was there a moment ago: keep waiting
                log.warning("Space state unknown", error=_why(exc))
                metrics.X_ERRORS.inc()
        self._poller = asyncio.create_task(self._poll(), name="space-state")
        return self.running and not stop.is_set()

    def nudge(self) -> None:
        """Ask X now rather than at the next poll (the Space's playlist just went away)."""
        self._nudged.set()

    async def _poll(self) -> None:
        """Follow the state until the Space ends. Nothing X does ends the poller: a failure is
        retried with the shared backoff (capped by the poll interval), and the Space's end is
        still noticed once X answers again."""
        backoff = Backoff(RETRY)
        wait = self.poll_seconds
        while not self.ended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), wait)
            self._nudged.clear()
            try:
                await self.refresh()
            except TRANSIENT as exc:
                wait = min(backoff.down(), self.poll_seconds)
                log.warning("Space state unknown", error=_why(exc), retry_in=round(wait, 1))
                metrics.X_ERRORS.inc()
                continue
            except Exception as exc:  # a bug of ours: say so, keep following the Space
                log.exception("Space state poll crashed", error=type(exc).__name__)
                wait = self.poll_seconds
                continue
            backoff.up()
            wait = self.poll_seconds

    async def stream_location(self, media_key: str | None) -> str:
        key = (
            media_key
            or (self.meta.media_key if self.meta else None)
            or (await self.refresh()).media_key
        )
        return await self.client.stream_location(key or "")

    async def close(self) -> None:
        if self._poller:
            self._poller.cancel()
        await self.http.aclose()


def _why(exc: BaseException) -> str:
    """One line on a failure to reach X, without headers or cookies (httpx's texts are safe:
    they name the exception and at most the URL, which holds no secret)."""
    if isinstance(exc, XError):
        return exc.message
    return f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
