"""A running Space, recorded from its start (x-spaces.md 2.8 and 3).

Backfill from the master's chunk-list snapshot and follow the live dynamic playlist; every
chunk is keyed by its sequence number, so the seam between the two has neither a duplicate nor
a hole (twspace-dl joins the parts by time and duplicates audio there). While the host is away
the dynamic playlist answers 404 with the Space still Running: keep polling, asking X for the
state now and then. Once the Space has ended, wait for the final list to reach the last live
sequence number and fetch whatever is still missing from it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from spacecast.download.fetch import Fetcher, MediaUnavailable
from spacecast.download.pool import ChunkPool
from spacecast.download.progress import Progress
from spacecast.download.replay import final_list, latest_list, rendition
from spacecast.download.settings import DownloadSettings
from spacecast.logs import get_logger
from spacecast.x import playlists
from spacecast.x.api import XClient
from spacecast.x.models import SpaceMetadata
from spacecast.x.playlists import ChunkRef

log = get_logger("spacecast.download")
NO_REPLAY_FINAL_LIST_S = 60.0  # without a replay the final list may never come: wait less


class LiveRecorder:
    def __init__(
        self,
        client: XClient,
        fetcher: Fetcher,
        pool: ChunkPool,
        meta: SpaceMetadata,
        location: str,
        settings: DownloadSettings,
        progress: Progress,
    ) -> None:
        self.client, self.fetcher, self.pool = client, fetcher, pool
        self.meta, self.dynamic = meta, location
        self.settings, self.progress = settings, progress
        self.listed: dict[int, float] = {}  # seq -> EXTINF, from any playlist
        self.last_live = -1
        self.disconnects = 0
        self.rendition = settings.rendition

    async def run(self) -> dict[int, float]:
        """Record until the Space ends; returns every chunk X listed (seq -> EXTINF), all of
        them submitted to the pool."""
        self.progress.status("live")
        if playlists.is_camera(self.dynamic):  # a master: follow the rendition's live list
            self.dynamic = await self._rendition_list()
        await self._follow()
        timeout = self.settings.final_list_timeout_s
        if not self.meta.replay_available:
            timeout = min(timeout, NO_REPLAY_FINAL_LIST_S)
        listing = await final_list(
            self.fetcher, self.dynamic, timeout, self.progress, self.last_live, self.rendition
        )
        if listing is None:
            log.warning("no final chunk list; keeping what was recorded live", space=self.meta.id)
        else:
            self._add(listing.chunks)
        return self.listed

    async def _rendition_list(self) -> str:
        """The chosen rendition's live list."""
        variant = await rendition(self.fetcher, self.dynamic, self.rendition)
        if variant is None:
            raise MediaUnavailable("live master playlist", "X answers 404; try again")
        self.rendition = str(variant.height) if variant.height else self.rendition
        return variant.url

    def _add(self, refs: Iterable[ChunkRef]) -> None:
        for ref in refs:
            self.listed.setdefault(ref.seq, ref.duration)
            self.pool.retry_missing(ref)
            self.pool.submit(ref)

    def _has_holes(self) -> bool:
        if not self.listed:
            return True
        return len(self.listed) < max(self.listed) - min(self.listed) + 1

    async def _follow(self) -> None:
        """Until X says the Space is no longer Running."""
        snapshot_due, state_due, away = 0.0, 0.0, False
        backfill_every = max(5.0, 3 * self.settings.live_poll_s)
        while True:
            now = time.monotonic()
            text = await self.fetcher.text(self.dynamic, "live playlist", missing_ok=True)
            if text is None:
                if now >= state_due:
                    state_due = now + self.settings.state_check_s
                    self.meta = await self.client.space(self.meta.id)
                    if not self.meta.running:
                        log.info("the Space has ended", space=self.meta.id, state=self.meta.state)
                        return
                    if not away:
                        away, self.disconnects = True, self.disconnects + 1
                        log.info("host disconnected, Space still running", space=self.meta.id)
                        self.progress.status("host away")
            else:
                if away:
                    away = False
                    log.info("live playlist is back", space=self.meta.id)
                    self.progress.status("live")
                refs = playlists.parse_chunk_list(text, self.dynamic).chunks
                self._add(refs)
                self.last_live = max([self.last_live, *(r.seq for r in refs)])
                if now >= snapshot_due and (snapshot_due == 0.0 or self._has_holes()):
                    snapshot_due = now + backfill_every
                    snapshot = await latest_list(self.fetcher, self.dynamic, self.rendition)
                    if snapshot is not None:
                        self._add(snapshot.chunks)
            await asyncio.sleep(self.settings.live_poll_s)
