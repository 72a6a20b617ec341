"""What X says about a Space (AudioSpaceById) and its stream (live_video_stream/status), reduced
to what spacecast uses. Field paths follow x-spaces.md 1.3 and 1.4."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

# States as X names them; TimedOut behaves as Ended (the host was lost), PrePublished as NotStarted.
NOT_STARTED = frozenset({"NotStarted", "PrePublished"})
RUNNING = "Running"
ENDED = frozenset({"Ended", "TimedOut"})
CANCELED = "Canceled"


class Host(BaseModel):
    screen_name: str = ""
    name: str = ""
    user_id: str = ""
    avatar_url: str = ""


class SpaceMetadata(BaseModel):
    id: str
    state: str
    title: str = ""
    media_key: str | None = None
    host: Host = Host()
    created_at: datetime | None = None
    scheduled_start: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    replay_available: bool = False

    @property
    def not_started(self) -> bool:
        return self.state in NOT_STARTED

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def canceled(self) -> bool:
        return self.state == CANCELED

    @property
    def display_title(self) -> str:
        """The title, or what X's clients show when there is none."""
        return self.title or f"{self.host.name or self.host.screen_name or 'Unknown'}'s Space"

    @classmethod
    def from_audio_space(cls, space_id: str, audio_space: dict[str, Any]) -> SpaceMetadata | None:
        """None for `{"data":{"audioSpace":{}}}`, X's answer for an unknown Space."""
        meta = audio_space.get("metadata")
        if not isinstance(meta, dict) or "state" not in meta:
            return None
        return cls(
            id=str(meta.get("rest_id") or space_id),
            state=str(meta["state"]),
            title=str(meta.get("title") or ""),
            media_key=meta.get("media_key") or None,
            host=_host(meta.get("creator_results")),
            created_at=_time(meta.get("created_at")),
            scheduled_start=_time(meta.get("scheduled_start")),
            started_at=_time(meta.get("started_at")),
            ended_at=_time(meta.get("ended_at")),
            replay_available=bool(meta.get("is_space_available_for_replay")),
        )


def _time(value: object) -> datetime | None:
    """Epoch milliseconds, as a number or (ended_at) a string."""
    try:
        ms = int(str(value))
    except ValueError:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC) if ms > 0 else None


def _host(creator: object) -> Host:
    """Names moved from `legacy` to `core` in late 2025: read `core` first."""
    result = creator.get("result", {}) if isinstance(creator, dict) else {}
    core, legacy = result.get("core") or {}, result.get("legacy") or {}
    return Host(
        screen_name=str(core.get("screen_name") or legacy.get("screen_name") or ""),
        name=str(core.get("name") or legacy.get("name") or ""),
        user_id=str(result.get("rest_id") or ""),
        avatar_url=str(legacy.get("profile_image_url_https") or ""),
    )


def stream_location(status: dict[str, Any]) -> str | None:
    """yt-dlp's preference: the redirect-free URL, else `location`."""
    source = status.get("source") or {}
    url = source.get("noRedirectPlaybackUrl") or source.get("location")
    return str(url) if url else None
