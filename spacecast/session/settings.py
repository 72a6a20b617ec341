"""What a session is told, as flags (`--display`) or environment (`SPACECAST_SESSION_DISPLAY`).

Secrets never come in as flags or plain settings values: the stream keys live in the
destinations file and the burner account's cookies in the cookies file, both mounted from
Kubernetes Secrets, so neither shows in `ps`, in the pod spec or in logs.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from spacecast.settings import ENV_PREFIX, SpacecastSettings

_SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"  # where a pod's token is


class SessionSettings(SpacecastSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "SESSION_", extra="ignore")

    space: str = Field("", description="The Space to cast: an x.com/twitter.com Space URL or id.")
    destinations_file: str = Field(
        "", description="File with one RTMP(S) URL per line (stream keys included; a secret)."
    )
    cookies_file: str | None = Field(
        None, description="The burner account's cookies, Netscape cookies.txt or JSON (a secret)."
    )

    # Processes.
    display: str = Field(":99", pattern=r"^:\d+$", description="X display for Xvfb and Chromium.")
    sink: str = Field(
        "spacecast99", pattern=r"^[A-Za-z0-9_.-]+$", description="PulseAudio null sink."
    )
    chromium: str = Field("/usr/bin/chromium", description="The browser binary.")
    chromium_sandbox: bool = Field(
        False, description="Run Chromium's sandbox (needs user namespaces in the container)."
    )
    runtime_dir: str | None = Field(
        None, description="Sockets, logs and browser profile (default: a fresh temp directory)."
    )

    # Picture and encoder.
    width: int = Field(1280, ge=160, le=3840, description="Display and output width.")
    height: int = Field(720, ge=90, le=2160, description="Display and output height.")
    fps: int = Field(30, ge=1, le=60, description="Frames per second.")
    crop: str | None = Field(
        None, pattern=r"^\d+x\d+\+\d+\+\d+$", description="Grab only WxH+X+Y of the display."
    )
    preset: str = Field("veryfast", description="libx264 preset.")
    crf: int = Field(25, ge=0, le=51, description="libx264 quality; capped by --max-kbps.")
    max_kbps: int = Field(3000, ge=100, description="Video maxrate (kbit/s); bufsize is twice it.")
    gop_seconds: float = Field(2.0, gt=0, le=10, description="Fixed keyframe interval.")
    audio_kbps: int = Field(128, ge=32, le=512, description="AAC bitrate.")
    calibrate: bool = Field(
        True,
        description="Measure how much later the display shows a picture than the sink hears "
        "it (a few beeps and flashes in the session's own browser, before the Space is shown; "
        "never pushed) and line picture and sound up by it.",
    )
    audio_delay_ms: int = Field(
        90,
        ge=-1000,
        le=1000,
        description="Delay audio this much (negative: the picture) when --no-calibrate is "
        "given or the calibration cannot finish.",
    )

    # Health and the rescue.
    metrics_port: int = Field(9090, ge=0, le=65535, description="/metrics, /healthz, /readyz.")
    metrics_bind: str = Field("0.0.0.0", description="Address of the metrics endpoint.")
    silence_db: float = Field(-60.0, description="Below this mean level the sink counts as silent.")
    silence_seconds: float = Field(
        10.0, gt=0, description="Silence this long while the Space runs engages the rescue."
    )
    starved_seconds: float = Field(
        5.0, gt=0, description="A page media element starved (readyState <= 1) this long does too."
    )
    rescue: bool = Field(True, description="Rescue silent Spaces through their HLS audio.")
    stall_seconds: float = Field(
        5.0, gt=0, le=120,
        description="A process alive but making no progress this long (the encoder's output, "
        "the meter's samples, the page's heartbeat) is restarted.",
    )  # fmt: skip
    ready_window_seconds: float = Field(
        10.0, gt=0, description="Encoder output older than this makes the session unready."
    )

    # RTMP resilience.
    reconnect_window_seconds: float = Field(
        60.0, gt=0, description="Keep reconnecting a dropped destination this long."
    )
    rtmps_ca_file: str | None = Field(
        None, description="A CA to trust for rtmps:// destinations, besides the system's."
    )
    wedge_seconds: float = Field(
        10.0,
        gt=0,
        description="No bytes written, or none taken by the server, this long means a wedged "
        "connection: it is dropped with what it still holds, and reconnected.",
    )

    # The Space's end and shutdown.
    state_poll_seconds: float = Field(10.0, gt=0, description="How often to ask X for the state.")
    termination_log: str = Field(
        "/dev/termination-log", description="Where the one-line JSON summary is written at exit."
    )

    # Live facts for the controller: Events about the SpaceCast (spacecast.session.report).
    report_cast: str = Field(
        "",
        pattern=r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=317,
        description="namespace/name of the SpaceCast whose Events report this session's audio "
        "source and silence (empty: no reports).",
    )
    report_cast_uid: str = Field(
        "", pattern=r"^[0-9a-fA-F-]{0,36}$", description="That SpaceCast's uid."
    )
    report_pod: str = Field(
        "", pattern=r"^[a-z0-9.-]{0,253}$", description="This session's pod (the reporter)."
    )
    report_api: str = Field(
        "",
        pattern=r"^(https://[^\s/]+)?$",
        description="The Kubernetes API (default: $KUBERNETES_SERVICE_HOST, in a pod).",
    )
    report_token_file: str = Field(
        f"{_SERVICE_ACCOUNT}/token", description="Bearer token (a secret; re-read each time)."
    )
    report_ca_file: str = Field(f"{_SERVICE_ACCOUNT}/ca.crt", description="The API's CA.")
    silent_report_seconds: float = Field(
        30.0, gt=0, description="Silence this long is reported as the cast's Silent condition."
    )
