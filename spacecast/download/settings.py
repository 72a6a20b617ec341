"""Settings of `spacecast download`; each is a flag and a SPACECAST_DOWNLOAD_* variable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from spacecast.settings import ENV_PREFIX, SpacecastSettings
from spacecast.x.playlists import RENDITION_RE

DEFAULT_TEMPLATE = "{date} {host} - {title} ({id}).{ext}"


def default_work_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spacecast" / "downloads"


class DownloadSettings(SpacecastSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "DOWNLOAD_", extra="ignore")

    output: str = Field(
        DEFAULT_TEMPLATE,
        description="Output file, directory, or template with {id} {title} {host} {host_name} "
        "{date} {ext}.",
    )
    format: Literal["m4a", "aac"] = Field(
        "m4a",
        description="m4a (AAC in MP4, tagged) or aac (the raw ADTS stream, untagged). A camera "
        "Space is recorded as mp4 with its picture, unless --audio-only or aac.",
    )
    rendition: str = Field(
        "best",
        pattern=RENDITION_RE.pattern,
        description="Camera Spaces: which rendition to record: best, worst, or a height "
        "(720, 480p).",
    )
    audio_only: bool = Field(
        False, description="Camera Spaces: record the sound alone (as --format says)."
    )
    cookies: str | None = Field(
        None, description="Browser cookies (Netscape cookies.txt or JSON); default: guest access."
    )
    # 12, not more: over HTTP/1.1 every pooled connection costs CPU on every request (httpcore
    # checks each one), and past about 12 at once the client, not the network, is the limit.
    concurrency: int = Field(20, ge=1, le=256, description="Chunks fetched at once.")
    retries: int = Field(8, ge=1, le=100, description="Attempts per chunk or playlist request.")
    backoff_s: float = Field(0.25, gt=0, description="First retry delay; doubles, with jitter.")
    backoff_max_s: float = Field(10.0, gt=0, description="Longest retry delay.")
    timeout_s: float = Field(30.0, gt=0, description="Timeout of one HTTP request.")
    rate_limit_budget_s: float = Field(
        120.0, ge=0, description="How long to wait out X's 429s (until their reset) in total."
    )
    final_list_timeout_s: float = Field(
        900.0,
        ge=0,
        description="After a Space ends, keep asking for its final chunk list this long (X "
        "answers 404, then a short list, for minutes after a long Space).",
    )
    live_poll_s: float = Field(2.0, gt=0, description="Live: how often to read the playlist.")
    state_check_s: float = Field(
        10.0, gt=0, description="Live: how often to ask X for the state while the host is away."
    )
    wait: bool = Field(False, description="Wait for a scheduled Space to start.")
    wait_poll_s: float = Field(30.0, gt=0, description="With --wait: how often to check.")
    gaps: Literal["fail", "silence", "skip"] = Field(
        "fail",
        description="Chunks X no longer has: fail (exit 18, keep the work), fill with "
        "silence of the same length, or skip them.",
    )
    work_dir: str = Field(
        str(default_work_root()), description="Where per-Space work directories live."
    )
    keep_work: bool = Field(False, description="Keep the work directory after success.")
    overwrite: bool = Field(False, description="Replace an existing output file.")
    json_summary: bool = Field(False, description="Print a JSON summary on stdout (--json).")
    progress: Literal["auto", "bar", "log", "none"] = Field(
        "auto", description="auto: a bar on a terminal, log lines otherwise."
    )
