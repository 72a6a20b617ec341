"""One download from start to finish: resolve, collect chunks, apply the gap policy, join,
tag, verify, then move the file into place atomically."""

from __future__ import annotations

import asyncio
import errno
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from spacecast.backoff import RetryPolicy
from spacecast.download import join, naming, tags, verify
from spacecast.download.fetch import Fetcher, MediaUnavailable, failure_text
from spacecast.download.live import LiveRecorder
from spacecast.download.output import Joiner
from spacecast.download.pool import ChunkPool
from spacecast.download.progress import make_progress
from spacecast.download.replay import collect, rendition
from spacecast.download.resolve import Plan, resolve
from spacecast.download.settings import DownloadSettings
from spacecast.download.workdir import WorkDir, atomic_target
from spacecast.errors import ExitCode, UserError
from spacecast.logs import get_logger
from spacecast.settings import XSettings
from spacecast.x import connect
from spacecast.x.api import XClient
from spacecast.x.auth import load_cookies
from spacecast.x.errors import from_transport

log = get_logger("spacecast.download")
TOOLS = ("ffmpeg", "ffprobe")  # what the join, the silence and the checks run


@dataclass
class Summary:
    space_id: str
    title: str
    host: str
    live: bool
    output: str
    format: str
    duration_s: float
    expected_s: float
    chunks: int
    chunks_fetched: int
    chunks_reused: int
    bytes: int
    gap_policy: str
    gaps: list[dict[str, Any]] = field(default_factory=list)
    rendition: str = ""  # a camera Space's recorded rendition ("1280x720"), "" for audio
    video_frames: int = 0  # the pictures in the output (0 without a picture)
    host_disconnects: int = 0
    http_version: str = ""  # what X's CDN negotiated for the media ("HTTP/2", "HTTP/1.1")
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class GapsRefused(UserError):
    """Audio missing under `--gaps fail`; the gaps go into the failure's JSON line too."""

    def __init__(self, gaps: list[join.Gap], work_dir: Path) -> None:
        super().__init__(
            f"{join.describe(gaps)}; rerun with --gaps silence or --gaps skip (the other "
            f"chunks are kept in {work_dir})",
            ExitCode.MISSING_CHUNKS,
        )
        self.gaps = join.report(gaps)


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _with_video(plan: Plan, settings: DownloadSettings) -> bool:
    """A camera Space is recorded with its picture, unless the sound alone is asked for (raw
    ADTS can hold nothing else)."""
    return plan.camera and not settings.audio_only and settings.format != "aac"


async def download(space: str, settings: DownloadSettings, x: XSettings) -> Summary:
    try:
        return await _download(space, settings, x)
    except httpx.TransportError as exc:  # an API call (media requests have their own retries)
        raise from_transport(exc) or MediaUnavailable("X's API", failure_text(exc)) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = exc.filename or "the work directory or output"
            raise UserError(f"no space left on device: {where}", ExitCode.DISK_FULL) from None
        if isinstance(exc, FileNotFoundError) and exc.filename in TOOLS:
            raise UserError(
                f"{exc.filename} is not installed: install ffmpeg (apt install ffmpeg)",
                ExitCode.UNAVAILABLE,
            ) from None
        raise


async def _download(space: str, settings: DownloadSettings, x: XSettings) -> Summary:
    started = time.monotonic()
    naming.check_template(settings.output)  # before any request: a typo costs nothing
    space_id = connect.space_id(space, x)
    cookies = load_cookies(_path(settings.cookies)) if settings.cookies else None
    pool = settings.concurrency + 2  # chunk workers, plus a playlist and an API call
    async with connect.http_client(x, connections=pool, timeout_s=settings.timeout_s) as http:
        client = connect.api_client(
            http, x, cookies, rate_limit_budget_s=settings.rate_limit_budget_s
        )
        plan = await resolve(client, space_id, settings.wait, settings.wait_poll_s)
        default = DownloadSettings.model_fields["output"].default
        ext = "mp4" if _with_video(plan, settings) else settings.format
        target = naming.output_path(settings.output, plan.meta, ext, default)
        if target.exists() and not settings.overwrite:
            raise UserError(f"{target} exists (use --overwrite)", ExitCode.OUTPUT_EXISTS)
        log.info("downloading", space=space_id, live=plan.live, output=str(target))
        work = WorkDir(_path(settings.work_dir), space_id)
        try:
            summary = await _record_and_write(client, http, plan, work, target, settings)
        finally:
            work.close()
    if not settings.keep_work:
        work.remove()
    summary.elapsed_s = round(time.monotonic() - started, 3)
    return summary


async def _record_and_write(
    client: XClient,
    http: httpx.AsyncClient,
    plan: Plan,
    work: WorkDir,
    target: Path,
    settings: DownloadSettings,
) -> Summary:
    """Record into a temporary file beside the target, renamed onto it once verified."""
    with atomic_target(target) as part:
        joiner = Joiner(work, settings.format, part, video=_with_video(plan, settings))
        try:
            summary = await _record(client, http, plan, work, joiner, settings)
        except BaseException:
            await joiner.abort()
            raise
    summary.output = str(target)
    return summary


async def _record(
    client: XClient,
    http: httpx.AsyncClient,
    plan: Plan,
    work: WorkDir,
    joiner: Joiner,
    settings: DownloadSettings,
) -> Summary:
    progress = make_progress(settings.progress)
    policy = RetryPolicy(settings.retries, settings.backoff_s, settings.backoff_max_s)
    fetcher = Fetcher(http, policy, on_retry=progress.retry)
    disconnects = 0
    silence: asyncio.Task[bytes] | None = None
    variant = await rendition(fetcher, plan.location, settings.rendition) if plan.camera else None
    wanted = str(variant.height) if variant and variant.height else settings.rendition
    work.claim(f"camera {wanted}" if plan.camera else "audio")
    try:
        pool = ChunkPool(fetcher, work, settings.concurrency, progress, joiner.stored)
        async with pool:
            if plan.live:
                recorder = LiveRecorder(
                    client, fetcher, pool, plan.meta, plan.location, settings, progress
                )
                recorder.rendition = wanted
                listed = await recorder.run()
                disconnects = recorder.disconnects
            else:
                listed = await collect(
                    fetcher, pool, plan.location, settings.final_list_timeout_s, progress, wanted
                )
            # The start is known now: the output is written while the rest arrives.
            await joiner.begin(min([*listed, *work.stored], default=0))
            progress.status("download")
            await pool.drain()
            if pool.missing and settings.gaps == "silence":  # made while the recheck waits
                silence = asyncio.create_task(asyncio.to_thread(join.silent_frame))
            await pool.recheck_missing()
    finally:
        progress.close()
    if silence is not None:
        await silence
    summary = await write(plan, work, listed, joiner, settings)
    summary.rendition = variant.size if variant else ""
    summary.chunks_fetched, summary.bytes = pool.fetched, fetcher.stats.bytes
    summary.http_version = fetcher.stats.http_version()
    summary.host_disconnects = disconnects
    return summary


async def write(
    plan: Plan,
    work: WorkDir,
    listed: dict[int, float],
    joiner: Joiner,
    settings: DownloadSettings,
) -> Summary:
    """Apply the gap policy, finish the joined file, tag and verify it."""
    slots = join.plan(listed, work.stored)
    gaps = [s for s in slots if isinstance(s, join.Gap)]
    if gaps:
        log.warning("audio missing", gaps=join.report(gaps), policy=settings.gaps)
        if settings.gaps == "fail":
            raise GapsRefused(gaps, work.path)
    fill = settings.gaps == "silence"
    stored = [work.stored[s] for s in slots if isinstance(s, int)]
    # From the playlist, not from what was stored: the check stays independent of the cleaner.
    # A cut-short chunk's EXTINF holds its tail, which is a gap of its own.
    tails = sum(g.seconds for g in gaps if g.cut_short)
    filled = sum(g.seconds for g in gaps) if fill else 0.0
    expected = sum(c.duration for c in stored) - tails + filled
    await joiner.finish(slots, fill)
    if settings.format == "m4a":
        tags.write_tags(joiner.dst, plan.meta)
    if joiner.video:
        found = await asyncio.to_thread(verify.tracks, joiner.dst)
        actual = found["soun"].seconds if "soun" in found else 0.0
        silent = _pictureless(slots) if fill else 0.0
        verify.check_pictures(found.get("vide"), joiner.pictures, actual, silent)
    else:
        actual = await verify.probe_duration(joiner.dst, raw_adts=settings.format == "aac")
    verify.check_duration(actual, expected)
    meta = plan.meta
    return Summary(
        space_id=meta.id,
        title=meta.display_title,
        host=meta.host.screen_name,
        live=plan.live,
        output="",
        format=settings.format,
        duration_s=round(actual, 3),
        expected_s=round(expected, 3),
        chunks=len(stored),
        chunks_fetched=0,
        chunks_reused=work.reused,
        bytes=0,
        gap_policy=settings.gaps,
        gaps=join.report(gaps),
        video_frames=joiner.pictures,
    )


def _pictureless(slots: list[join.Slot]) -> float:
    """Silence before the first segment and after the last (segments lost there, the tail of
    a last one cut short): the sound runs there, the picture does not."""
    seconds = 0.0
    for run in (slots, slots[::-1]):
        for slot in run:
            if not isinstance(slot, join.Gap):
                break
            seconds += slot.seconds
    return seconds
