"""A fixed set of workers fetching chunks into the work directory, in submission order.

Workers rather than one task per chunk, so memory stays flat however long the Space is:
at most `concurrency` chunk bodies are in memory at once. A chunk is submitted at most once,
and never when the work directory already has it (resume, or live and snapshot overlapping).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType

from spacecast.download.fetch import Fetcher
from spacecast.download.progress import Progress
from spacecast.download.workdir import StoredChunk, WorkDir
from spacecast.tasks import cancel_and_wait
from spacecast.x.playlists import ChunkRef

RECHECK_AFTER_S = 0.3  # a missing chunk is asked for again no sooner than this (about 1 s of
# patience in all with the two quick rounds: a passing 404 is ridden out, a lost chunk costs
# little)


class ChunkPool:
    def __init__(
        self,
        fetcher: Fetcher,
        work: WorkDir,
        concurrency: int,
        progress: Progress,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.fetcher, self.work, self.progress = fetcher, work, progress
        self.on_stored = on_stored
        self.concurrency = concurrency
        self.queue: asyncio.Queue[ChunkRef] = asyncio.Queue()
        self.scheduled: set[int] = set()
        self.missing: dict[int, ChunkRef] = {}  # X answers 404 (for now)
        self.reported: set[int] = set()  # missing chunks the progress display was told of
        self._missing_at: dict[int, float] = {}  # when each went missing (monotonic)
        self.fetched = 0
        self._error: BaseException | None = None
        self._failed = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> ChunkPool:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    def submit(self, ref: ChunkRef) -> None:
        if ref.seq in self.scheduled or self.work.has(ref.seq):
            return
        self.scheduled.add(ref.seq)
        self.progress.add_total(1)
        self.queue.put_nowait(ref)

    def retry_missing(self, ref: ChunkRef) -> None:
        """Give a chunk that was missing another chance (a newer list names it again)."""
        if self.missing.pop(ref.seq, None) is not None:
            self.queue.put_nowait(ref)

    async def recheck_missing(self) -> None:
        """Ask once more for every chunk still missing, once the rest are in and at least
        RECHECK_AFTER_S after it went missing: a 404 was decided quickly, and this second
        round keeps a passing 404 (an edge not yet filled) from making a gap."""
        if not self.missing:
            return
        since = max(self._missing_at[seq] for seq in self.missing)  # the latest has waited too
        await asyncio.sleep(max(0.0, since + RECHECK_AFTER_S - time.monotonic()))
        for ref in list(self.missing.values()):
            self.retry_missing(ref)
        await self.drain()

    async def drain(self) -> None:
        """Wait until every submitted chunk is stored or known missing; re-raise a failure."""
        joined = asyncio.create_task(self.queue.join())
        failed = asyncio.create_task(self._failed.wait())
        await asyncio.wait({joined, failed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (joined, failed):
            await cancel_and_wait(task)
        if self._error is not None:
            raise self._error

    async def _work(self) -> None:
        while True:
            ref = await self.queue.get()
            try:
                if self._error is None:
                    await self._one(ref)
            except Exception as exc:  # handed to drain(), which re-raises it in the caller
                self._error = self._error or exc
                self._failed.set()
            except asyncio.CancelledError:
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    raise  # the pool is closing
                # A cancellation this worker was not sent: never let it end the worker
                # silently, with its chunk neither stored nor missing.
                self._error = self._error or RuntimeError(f"chunk {ref.seq}: fetch cancelled")
                self._failed.set()
            finally:
                self.queue.task_done()

    async def _one(self, ref: ChunkRef) -> None:
        again = ref.seq in self.reported
        fetched = await self.fetcher.chunk(ref)
        if fetched is None:
            self.missing[ref.seq] = ref
            self._missing_at[ref.seq] = time.monotonic()
            if not again:
                self.reported.add(ref.seq)
                self.progress.missing(ref.seq)
                self.progress.advance(0)  # done with, for now
            return
        audio, video = fetched.audio, fetched.video
        stored = StoredChunk(
            ref.seq, audio.frames, audio.pts, ref.duration, len(audio.audio),
            cut=not fetched.complete,
            pictures=video.pictures if video else 0,
            video_pts=video.video_pts if video else None,
        )  # fmt: skip
        self.work.put(stored, audio.audio, video.video if video else b"")
        self.on_stored()
        self.fetched += 1
        size = len(audio.audio) + (len(video.video) if video else 0)
        if again:
            self.reported.discard(ref.seq)
            self.progress.recovered(ref.seq, size)
        else:
            self.progress.advance(size)
