"""Tags of the m4a, written with mutagen after the remux: title, host as artist, date, and the
Space's id and URL, so a file can always be traced back to its Space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mutagen.mp4 import MP4, MP4FreeForm

from spacecast.x.models import SpaceMetadata

FREEFORM = "----:org.spacecast:space_id"


def tag_values(meta: SpaceMetadata) -> dict[str, list[str]]:
    started = meta.started_at or meta.scheduled_start
    values = {
        "\xa9nam": [meta.display_title],
        "\xa9ART": [meta.host.name or meta.host.screen_name or "unknown"],
        "\xa9alb": ["X Spaces"],
        "\xa9cmt": [f"https://x.com/i/spaces/{meta.id}"],
    }
    if meta.host.screen_name:
        values["aART"] = [f"@{meta.host.screen_name}"]
    if started:
        values["\xa9day"] = [started.strftime("%Y-%m-%dT%H:%M:%SZ")]
    return values


def write_tags(path: Path, meta: SpaceMetadata) -> None:
    audio: Any = MP4(path)  # type: ignore[no-untyped-call]
    if audio.tags is None:
        audio.add_tags()
    audio.tags.update(tag_values(meta))
    audio.tags[FREEFORM] = [MP4FreeForm(meta.id.encode())]  # type: ignore[no-untyped-call]
    audio.save()
