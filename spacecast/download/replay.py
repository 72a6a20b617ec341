"""An ended Space: wait for its final chunk list, then fetch every chunk it names.

Right after a long Space ends, X answers 404 for the final list for minutes, then may serve a
list still missing its last chunks (x-spaces.md 2.8). So the list is asked for again, with
backoff, until it exists and reaches the last sequence number the live playlist showed, or the
configured time runs out.
"""

from __future__ import annotations

import asyncio
import time

from spacecast.backoff import RetryPolicy
from spacecast.download.fetch import Fetcher, MediaUnavailable
from spacecast.download.pool import ChunkPool
from spacecast.download.progress import Progress
from spacecast.logs import get_logger
from spacecast.x import playlists
from spacecast.x.playlists import ChunkList

log = get_logger("spacecast.download")


async def rendition(fetcher: Fetcher, location: str, wanted: str) -> playlists.Variant | None:
    """A camera Space's chosen rendition, from its master (None while the master is 404)."""
    master = playlists.master_url(location)
    text = await fetcher.text(master, "master playlist", missing_ok=True)
    return playlists.choose(playlists.variants(master, text), wanted) if text else None


async def latest_list(fetcher: Fetcher, location: str, wanted: str = "best") -> ChunkList | None:
    """The chunk list the master names now (or the replay list itself); None while 404. For a
    camera Space, the `wanted` rendition's."""
    master = playlists.master_url(location)
    text = await fetcher.text(master, "master playlist", missing_ok=True)
    candidates = [playlists.chunk_list_url(master, text, wanted)] if text else []
    if "/playlist_" in location:
        candidates.append(location)
    for url in candidates:
        body = await fetcher.text(url, "chunk list", missing_ok=True)
        if body is not None:
            return playlists.parse_chunk_list(body, url)
    return None


async def final_list(
    fetcher: Fetcher,
    location: str,
    timeout_s: float,
    progress: Progress,
    must_reach: int | None = None,
    wanted: str = "best",
) -> ChunkList | None:
    """The final list once it reaches `must_reach`; at the deadline, the best seen (or None)."""
    deadline = time.monotonic() + timeout_s
    backoff = RetryPolicy(base_s=fetcher.policy.base_s * 2, max_s=fetcher.policy.max_s)
    best: ChunkList | None = None
    attempt = 0
    while True:
        listing = await latest_list(fetcher, location, wanted)
        if listing is not None and listing.ended:
            last = max((c.seq for c in listing.chunks), default=-1)
            if must_reach is None or last >= must_reach:
                return listing
            best = listing
            progress.status(f"final list ends at {last}, waiting for {must_reach}")
        else:
            progress.status("waiting for the final chunk list")
        attempt += 1
        pause = backoff.delay(attempt)
        if time.monotonic() + pause > deadline:
            return best
        await asyncio.sleep(pause)


async def collect(
    fetcher: Fetcher,
    pool: ChunkPool,
    location: str,
    timeout_s: float,
    progress: Progress,
    wanted: str = "best",
) -> dict[int, float]:
    """Submit an ended Space's chunks to the pool; returns what X listed (seq -> EXTINF)."""
    listing = await final_list(fetcher, location, timeout_s, progress, wanted=wanted)
    if listing is None:
        raise MediaUnavailable(
            "final chunk list", f"still unavailable after {timeout_s:.0f} s; try again later"
        )
    for ref in listing.chunks:
        pool.submit(ref)
    return {c.seq: c.duration for c in listing.chunks}
