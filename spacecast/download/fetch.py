"""Playlists and chunks from X's CDN, over the one pooled client, with retries.

Every request is retried with exponential backoff and jitter; a 429 waits for its
`Retry-After` / `x-rate-limit-reset` when that is given (capped). A chunk body is checked as it
is cleaned: one cut short (with or without Content-Length) or holding fewer frames than its
EXTINF says is fetched again; if it stays cut short, its frames are kept and the pool reports
the rest as a gap. A 404 for a chunk that X listed is decided quickly: after `MISSING_AFTER`
in a row, with short pauses, it counts as missing for now (the pool asks once more at the end),
so a Space with a few chunks X lost records about as fast as one without. Playlists and server
errors keep the long patience. A certificate that does not verify fails at once; a host that
stays unreachable fails with its own code; any other persistent failure stops the download.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from spacecast.backoff import RetryPolicy
from spacecast.download import chunks, ts
from spacecast.errors import ExitCode, UserError
from spacecast.logs import get_logger
from spacecast.x.auth import USER_AGENT
from spacecast.x.errors import TlsUntrusted, from_transport
from spacecast.x.playlists import ChunkRef

Answer = httpx.Response | httpx.RequestError  # a transport's failure, a redirect loop

log = get_logger("spacecast.download")
MEDIA_HEADERS = {"User-Agent": USER_AGENT, "Referer": "https://x.com/"}
MAX_429_WAIT_S = 60.0
MISSING_AFTER = 4  # 404s in a row before a listed chunk counts as missing for now
QUICK = RetryPolicy(MISSING_AFTER, base_s=0.05, max_s=0.2)  # the pauses between those 404s


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
    versions: Counter[str] = field(default_factory=Counter)  # what the CDN negotiated

    def http_version(self) -> str:
        """The protocol most media answers came over ("HTTP/2", "HTTP/1.1"; "" before any)."""
        return self.versions.most_common(1)[0][0] if self.versions else ""


def failure_text(resp: Answer) -> str:
    """A failed request in a few words (no header: httpx quotes none)."""
    if isinstance(resp, httpx.Response):
        return f"HTTP {resp.status_code}"
    return f"{resp.__class__.__name__}: {resp}" if str(resp) else resp.__class__.__name__


def _is_404(resp: Answer) -> bool:
    return isinstance(resp, httpx.Response) and resp.status_code == 404


@dataclass(frozen=True)
class Fetched:
    """A chunk as stored: its audio frames, and a camera Space's picture packets."""

    audio: chunks.CleanChunk
    video: ts.Segment | None
    complete: bool  # whole, and as long as its EXTINF says

    def fullness(self) -> tuple[bool, int, int]:
        return self.complete, self.audio.frames, self.video.pictures if self.video else 0


def _expected(duration: float, video: ts.Segment | None) -> tuple[int, int]:
    """(frames, pictures) a chunk of this EXTINF holds. A camera segment is cut at a keyframe,
    so its audio is whichever frames start within it: the EXTINF in frames, rounded either way."""
    frames = chunks.frames_for(duration)
    if video is None or not video.frame_ticks:
        return frames, 0
    return frames, round(duration * 90_000 / video.frame_ticks)


def examine(body: bytes, duration: float, camera: bool) -> tuple[Fetched, str]:
    """The chunk in `body`, and why it falls short ("" when it does not)."""
    video, trimmed = None, False
    if camera:
        whole = len(body) - len(body) % ts.PACKET
        trimmed = whole != len(body)  # cut short mid-packet: keep the whole packets
        try:
            video = ts.split(body[:whole])
        except ts.NotTransportStream as exc:
            return Fetched(chunks.clean(b""), None, False), str(exc)
        clean = chunks.clean(video.audio)
        clean = dataclasses.replace(clean, pts=video.audio_pts)
    else:
        clean = chunks.clean(body)
    frames, pictures = _expected(duration, video) if duration else (0, 0)
    exact = (
        abs(clean.frames - duration * chunks.FRAMES_PER_S) < 1 if video else frames == clean.frames
    )
    short = []
    if duration and not exact:
        short.append(f"{clean.frames} frames, expected {frames}")
    if video is not None and pictures and video.pictures != pictures:
        short.append(f"{video.pictures} pictures, expected {pictures}")
    if not clean.complete or trimmed:
        short.append("cut short")
    if not clean.frames:
        short.append("no audio")
    if video is not None and short:  # cut short somewhere: its last picture may be cut too
        video = video.less_the_last_picture()
    return Fetched(clean, video, not short), ", ".join(short)


def _gave_up(what: str, resp: Answer, why: str, attempts: int) -> UserError:
    """The failure after the last attempt: a host out of reach has its own code."""
    if isinstance(resp, httpx.TransportError) and (err := from_transport(resp)) is not None:
        return err
    return MediaUnavailable(what, f"{why} after {attempts} attempts")


class Fetcher:
    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: RetryPolicy,
        *,
        on_retry: Callable[[str, str], None] = lambda what, why: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.policy = policy
        self.quick = RetryPolicy(
            MISSING_AFTER, min(QUICK.base_s, policy.base_s), min(QUICK.max_s, policy.max_s)
        )
        self.stats = FetchStats()
        self.on_retry = on_retry
        self._sleep = sleep

    async def _get(self, url: str) -> Answer:
        """The response, or the request's failure (the transport's, or redirects without end);
        a certificate that does not verify raises at once (asking again cannot help)."""
        self.stats.requests += 1
        try:
            resp = await self._send(url)
            self.stats.versions[resp.http_version] += 1
            return resp
        except httpx.TransportError as exc:  # includes bodies cut short of Content-Length
            if isinstance(err := from_transport(exc), TlsUntrusted):
                raise err from None
            return exc
        except httpx.TooManyRedirects as exc:  # the CDN sends us round in circles
            return exc

    async def _send(self, url: str) -> httpx.Response:
        """GET `url` through the client's transport for it (the pool, or a proxy's), the body
        read. What the client adds around a request (cookies, auth, event hooks, its own
        bookkeeping) is for the API, not for media: a third of the CPU of each of a Space's
        thousand chunk requests. A redirect goes on through the client, asked to follow the
        rest (media may be redirected, X's API never: `connect.http_client`)."""
        request = self.http.build_request("GET", url, headers=MEDIA_HEADERS)
        try:
            resp = await self.http._transport_for_url(request.url).handle_async_request(request)
            try:
                await resp.aread()
            finally:
                await resp.aclose()
        except httpx.TransportError as exc:
            exc.request = request  # the host it names (the client sets it the same way)
            raise
        resp.request = request
        if resp.is_redirect and (location := resp.headers.get("Location")):
            return await self.http.get(
                request.url.join(location), headers=MEDIA_HEADERS, follow_redirects=True
            )
        return resp

    async def _pause(self, what: str, why: str, attempt: int, resp: Answer, quick: bool) -> None:
        self.stats.retries += 1
        self.on_retry(what, why)
        wait = (self.quick if quick else self.policy).delay(attempt)
        if isinstance(resp, httpx.Response) and resp.status_code == 429:
            wait = min(MAX_429_WAIT_S, retry_after(resp, time.time()) or wait)
        await self._sleep(wait)

    async def text(self, url: str, what: str, *, missing_ok: bool = False) -> str | None:
        """A playlist; None for a 404 when `missing_ok` (the caller decides when to ask again)."""
        for attempt in range(1, self.policy.attempts + 1):
            resp = await self._get(url)
            if isinstance(resp, httpx.Response):
                if resp.status_code == 200:
                    return resp.text
                if resp.status_code == 404 and missing_ok:
                    return None
            if attempt < self.policy.attempts:
                await self._pause(what, failure_text(resp), attempt, resp, quick=False)
        raise _gave_up(what, resp, failure_text(resp), self.policy.attempts)

    async def chunk(self, ref: ChunkRef) -> Fetched | None:
        """The chunk: whole, or cut short after every attempt (`complete` False: what it holds
        is kept, the rest is a gap); None when X answers 404 `MISSING_AFTER` times in a row."""
        camera = ref.url.partition("?")[0].endswith(".ts")
        best: Fetched | None = None
        not_found, what = 0, f"chunk {ref.seq}"
        for attempt in range(1, self.policy.attempts + 1):
            resp = await self._get(ref.url)
            if isinstance(resp, httpx.Response) and resp.status_code == 200:
                self.stats.bytes += len(resp.content)
                fetched, why = examine(resp.content, ref.duration, camera)
                if fetched.complete:
                    return fetched
                not_found = 0
                best = fetched if best is None else max(best, fetched, key=Fetched.fullness)
            else:
                why, not_found = failure_text(resp), not_found + 1 if _is_404(resp) else 0
                last = attempt == self.policy.attempts
                if best is None and not_found and (not_found >= MISSING_AFTER or last):
                    return None
            if attempt < self.policy.attempts:
                await self._pause(what, why, not_found or attempt, resp, quick=not_found > 0)
        if best is not None and best.audio.frames:
            # Every answer held less than the EXTINF, or was cut short: keep what X serves and
            # say so (the pool reports a cut-short chunk's tail as a gap).
            log.warning("chunk length differs from its EXTINF", seq=ref.seq, detail=why)
            return best
        raise _gave_up(what, resp, why, self.policy.attempts)
