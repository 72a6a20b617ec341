"""The audio rescue. Camera Spaces withhold audio from listeners over WebRTC, so the sink stays
silent (about -91 dB) however the page is coaxed. When the Space runs but the sink has been
silent, or the page's player starved, for long enough, ffmpeg plays the Space's HLS audio
(rendition 0 only) into the same sink, and the browser's streams are muted so the two paths never
play at once.

    STANDBY -> ENGAGING -> ACTIVE            (ffmpeg kept running, restarted if it dies)
                   |
                   v
              COOLDOWN -> STANDBY            (no stream to rescue from yet: try again later)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable

import httpx

from spacecast.errors import UserError
from spacecast.logs import get_logger
from spacecast.session import commands, metrics
from spacecast.session.audio import AudioServer
from spacecast.session.process import ManagedProcess

log = get_logger("session.rescue")
COOLDOWN_S = 15.0


class RescueState(enum.StrEnum):
    STANDBY = "standby"
    ENGAGING = "engaging"
    ACTIVE = "active"
    COOLDOWN = "cooldown"


def should_engage(
    *,
    running: bool,
    silent_for: float,
    starved_for: float,
    silence_seconds: float,
    starved_seconds: float,
) -> bool:
    """Pure policy: the Space runs and either the sink or the page's player says no audio."""
    return running and (silent_for >= silence_seconds or starved_for >= starved_seconds)


class RescueProcess(ManagedProcess):
    name = "rescue"


class Rescue:
    def __init__(
        self,
        audio: AudioServer,
        resolve_hls: Callable[[], Awaitable[str]],
        on_stream_lost: Callable[[], None] | None = None,
        plain_http: bool = False,
    ) -> None:
        self.audio = audio
        self.plain_http = plain_http  # X is configured over plain HTTP: its HLS is http:// too
        self.resolve_hls = resolve_hls
        self.on_stream_lost = on_stream_lost  # the playlist ended: maybe the Space did
        self.state = RescueState.STANDBY
        self.activations = 0
        self.process: RescueProcess | None = None
        self._cooldown_until = 0.0
        metrics.AUDIO_SOURCE.state("browser")

    def _set(self, state: RescueState, **why: object) -> None:
        if state is not self.state:
            log.info("rescue state", state=state.value, previous=self.state.value, **why)
            self.state = state

    @property
    def idle(self) -> bool:
        return self.state in (RescueState.STANDBY, RescueState.COOLDOWN)

    @property
    def source(self) -> str:
        return "rescue" if self.state is RescueState.ACTIVE else "browser"

    async def engage(self) -> None:
        if self.state is RescueState.COOLDOWN and time.monotonic() < self._cooldown_until:
            return
        self._set(RescueState.ENGAGING)
        try:
            url = await self.resolve_hls()
        except (UserError, httpx.HTTPError, OSError) as exc:  # X out of reach: try again later
            self._cooldown_until = time.monotonic() + COOLDOWN_S
            why = exc.message if isinstance(exc, UserError) else type(exc).__name__
            return self._set(RescueState.COOLDOWN, error=why)
        sink, socket, plain = self.audio.sink, self.audio.socket, self.plain_http
        try:
            commands.rescue(url, sink, socket, plain)
        except ValueError as exc:  # X pointed somewhere the rescue will not go
            self._cooldown_until = time.monotonic() + COOLDOWN_S
            return self._set(RescueState.COOLDOWN, error=str(exc))
        self.process = RescueProcess(
            lambda: commands.rescue(url, sink, socket, plain), on_exit=self.on_stream_lost
        )
        await self.process.start()
        await self.audio.mute_players_except(commands.RESCUE_CLIENT, mute=True)
        self.activations += 1
        metrics.RESCUE_ACTIVATIONS.inc()
        metrics.AUDIO_SOURCE.state("rescue")
        self._set(RescueState.ACTIVE)

    async def tick(self) -> None:
        """Keep the browser muted while rescuing (a relaunched browser brings new streams)."""
        if self.state is RescueState.ACTIVE:
            await self.audio.mute_players_except(commands.RESCUE_CLIENT, mute=True)

    async def stop(self) -> None:
        if self.process:
            await self.process.stop()
            self.process = None
