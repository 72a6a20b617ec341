"""Playlists and chunks from X's CDN, over the one pooled client, with retries.

Every request is retried with exponential backoff and jitter; a 429 waits for its
`Retry-After` / `x-rate-limit-reset` when that is given (capped). A chunk body is checked as it
is cleaned: one cut short (with or without Content-Length) or holding fewer frames than its
EXTINF says is fetched again. A chunk that still answers 404 after every attempt is reported as
missing, for the gap policy to decide; any other persistent failure stops the download.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from spacecast.backoff import RetryPolicy
from spacecast.download import chunks
from spacecast.errors import ExitCode, UserError
from spacecast.logs import get_logger
from spacecast.x.auth import USER_AGENT
from spacecast.x.playlists import ChunkRef

log = get_logger("spacecast.download")
MEDIA_HEADERS = {"User-Agent": USER_AGENT, "Referer": "https://x.com/"}
MAX_429_WAIT_S = 60.0


class MediaUnavailable(UserError):
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}", ExitCode.MEDIA_UNAVAILABLE)


def retry_after(resp: httpx.Response, now: float) -> float | None:
    """Seconds a 429 asks us to wait: Retry-After, else x-rate-limit-reset (epoch s)."""
    try:
        if "Retry-After" in resp.headers:
            return max(0.0, float(resp.headers["Retry-After"]))
        if "x-rate-limit-reset" in resp.headers:
            return max(0.0, float(resp.headers["x-rate-limit-reset"]) - now)
    except ValueError:
        pass
    return None


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    bytes: int = 0


class Fetcher:
    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.policy = policy
        self.stats = FetchStats()
        self._sleep = sleep

    async def _get(self, url: str) -> httpx.Response | str:
        """The response, or why the request failed at the transport level."""
        self.stats.requests += 1
        try:
            return await self.http.get(url, headers=MEDIA_HEADERS)
        except httpx.TransportError as exc:  # includes bodies cut short of Content-Length
            return f"{exc.__class__.__name__}: {exc}"

    async def _pause(self, attempt: int, resp: httpx.Response | None) -> None:
        self.stats.retries += 1
        wait = self.policy.delay(attempt)
        if resp is not None and resp.status_code == 429:
            wait = min(MAX_429_WAIT_S, retry_after(resp, time.time()) or wait)
        await self._sleep(wait)

    async def text(self, url: str, what: str, *, missing_ok: bool = False) -> str | None:
        """A playlist; None for a 404 when `missing_ok` (the caller decides when to ask again)."""
        why = ""
        for attempt in range(1, self.policy.attempts + 1):
            resp = await self._get(url)
            if isinstance(resp, httpx.Response):
                if resp.status_code == 200:
                    return resp.text
                if resp.status_code == 404 and missing_ok:
                    return None
                why = f"HTTP {resp.status_code}"
            else:
                why = resp
            if attempt < self.policy.attempts:
                await self._pause(attempt, resp if isinstance(resp, httpx.Response) else None)
        raise MediaUnavailable(what, f"{why} after {self.policy.attempts} attempts")

    async def chunk(self, ref: ChunkRef) -> chunks.CleanChunk | None:
        """The cleaned chunk, or None if X answers 404 to every attempt."""
        expected = chunks.frames_for(ref.duration) if ref.duration else None
        best: chunks.CleanChunk | None = None
        why, all_404 = "", True
        for attempt in range(1, self.policy.attempts + 1):
            resp = await self._get(ref.url)
            if isinstance(resp, httpx.Response) and resp.status_code == 200:
                self.stats.bytes += len(resp.content)
                cleaned = chunks.clean(resp.content)
                if cleaned.complete and cleaned.frames and expected in (None, cleaned.frames):
                    return cleaned
                why, all_404 = f"{cleaned.frames} frames, expected {expected}", False
                if cleaned.complete and (best is None or cleaned.frames > best.frames):
                    best = cleaned
            else:
                why = f"HTTP {resp.status_code}" if isinstance(resp, httpx.Response) else resp
                all_404 = all_404 and isinstance(resp, httpx.Response) and resp.status_code == 404
            if attempt < self.policy.attempts:
                await self._pause(attempt, resp if isinstance(resp, httpx.Response) else None)
        if best is not None:
            # X's EXTINF and the frames disagree every time: keep what X serves, say so.
            log.warning("chunk length differs from its EXTINF", seq=ref.seq, detail=why)
            return best
        if all_404:
            return None
        raise MediaUnavailable(f"chunk {ref.seq}", f"{why} after {self.policy.attempts} attempts")
