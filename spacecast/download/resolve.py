"""From a Space id to what to record: metadata, and the live or replay stream location."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from spacecast.errors import ExitCode, UserError
from spacecast.logs import get_logger
from spacecast.x import playlists
from spacecast.x.api import XClient
from spacecast.x.errors import StreamUnavailable
from spacecast.x.models import SpaceMetadata

log = get_logger("spacecast.download")


class NotStarted(UserError):
    def __init__(self, meta: SpaceMetadata) -> None:
        when = (
            f" (scheduled for {meta.scheduled_start:%Y-%m-%d %H:%M} UTC)"
            if (meta.scheduled_start)
            else ""
        )
        super().__init__(
            f"Space {meta.id} has not started yet{when}; use --wait to wait for it",
            ExitCode.NOT_STARTED,
        )


class NoReplay(UserError):
    def __init__(self, meta: SpaceMetadata) -> None:
        how = "was canceled" if meta.canceled else "ended without a replay"
        super().__init__(f"Space {meta.id} {how}: nothing to download", ExitCode.NO_REPLAY)


@dataclass(frozen=True)
class Plan:
    meta: SpaceMetadata
    location: str  # live dynamic playlist or replay chunk list

    @property
    def live(self) -> bool:
        return "dynamic_playlist" in self.location

    @property
    def camera(self) -> bool:
        return playlists.is_camera(self.location)


async def wait_for_start(
    client: XClient, meta: SpaceMetadata, wait: bool, poll_s: float
) -> SpaceMetadata:
    while meta.not_started:
        if not wait:
            raise NotStarted(meta)
        until = meta.scheduled_start.timestamp() - time.time() if meta.scheduled_start else 0
        pause = min(poll_s, until) if until > 1 else poll_s
        log.info("waiting for the Space to start", space=meta.id, seconds=round(pause, 1))
        await asyncio.sleep(pause)
        meta = await client.space(meta.id)
    return meta


async def resolve(client: XClient, space_id: str, wait: bool, poll_s: float) -> Plan:
    meta = await wait_for_start(client, await client.space(space_id), wait, poll_s)
    if meta.canceled or (meta.ended and not meta.replay_available) or not meta.media_key:
        raise NoReplay(meta)
    try:
        location = await client.stream_location(meta.media_key)
    except StreamUnavailable:
        raise NoReplay(meta) from None
    return Plan(meta, location)
