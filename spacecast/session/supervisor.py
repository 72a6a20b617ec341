"""The supervisor: brings the session's processes up in order, watches the cast once a second,
and ends it when the Space ends (exit 0), on SIGTERM (exit 0), or on a fatal error (its own
exit code). Whatever the ending, it flushes the pusher, tears everything down by process group,
and writes a one-line JSON summary to the termination-message path.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web

from spacecast.contract import Facts, Summary, summarize_destinations
from spacecast.errors import ExitCode, UserError
from spacecast.logs import get_logger
from spacecast.session import calibration, health
from spacecast.session.audio import AudioServer
from spacecast.session.browser import PROFILE, Browser
from spacecast.session.calibration import Calibration
from spacecast.session.commands import EncoderSettings
from spacecast.session.destinations import FanOut
from spacecast.session.display import Display
from spacecast.session.meter import Meter
from spacecast.session.pusher import Pusher
from spacecast.session.reaper import Reaper
from spacecast.session.report import Reporter, Target
from spacecast.session.rescue import Rescue, should_engage
from spacecast.session.settings import SessionSettings
from spacecast.session.xclient import SpaceWatch
from spacecast.settings import XSettings
from spacecast.x.errors import from_transport

log = get_logger("session")
TICK_S = 1.0
METER_WINDOW_S = 2.0
FLUSH_S = 5.0
CALIBRATION_WAIT_S = 30.0  # Chromium's launch and the measurement: about 3 s, on a cold node more


class Session:
    def __init__(self, settings: SessionSettings, x: XSettings) -> None:
        self.settings, self.x = settings, x
        self._own_runtime = settings.runtime_dir is None  # a temp directory: removed at the end
        self.runtime = Path(settings.runtime_dir or tempfile.mkdtemp(prefix="spacecast-session-"))
        # First, before any child: what must not outlive the cast goes even if we are killed.
        self.reaper = Reaper(self.runtime if self._own_runtime else self.runtime / PROFILE)
        self.health = health.Health()
        self.stop_requested = asyncio.Event()
        self.started = time.monotonic()
        self.metrics_port = 0
        self.destinations_given = 0
        self.watch: SpaceWatch | None = None
        self.display: Display | None = None
        self.audio: AudioServer | None = None
        self.browser: Browser | None = None
        self.fanout: FanOut | None = None
        self.pusher: Pusher | None = None
        self.meter: Meter | None = None
        self.rescue: Rescue | None = None
        self.calibration: Calibration | None = None
        target = Target.from_settings(settings)
        self.reporter = Reporter(target) if target else None

    async def run(self, destinations: list[Any], watch: SpaceWatch) -> Summary:
        self.watch = watch
        self.destinations_given = len(destinations)
        runner: web.AppRunner | None = None
        try:
            runner = await self._serve_health()
            log.info(
                "session starting",
                space=watch.space_id,
                metrics_port=self.metrics_port,
                destinations=[d.redacted for d in destinations],
            )
            reason = await self._cast(destinations)
            return self._summary(reason, ExitCode.OK)
        except UserError as exc:
            log.error("session failed", error=exc.message, code=exc.code)
            return self._summary("failed", exc.code, exc.message)
        except (httpx.HTTPError, OSError) as exc:  # X or a local service out of reach
            known = from_transport(exc) if isinstance(exc, httpx.TransportError) else None
            code = known.code if known else ExitCode.UNAVAILABLE
            message = known.message if known else (
                f"cannot reach a service the session needs: {exc or type(exc).__name__}"
            )  # fmt: skip
            log.error("session failed", error=message, code=code)
            return self._summary("failed", code, message)
        except Exception as exc:  # a bug: still end with a summary and a clean teardown
            log.exception("session crashed")
            # The type only: an exception's text may quote what it was reading (a secret file).
            message = f"internal error: {type(exc).__name__}"
            return self._summary("failed", ExitCode.FAILURE, message)
        finally:
            await self._teardown()
            if runner:
                await runner.cleanup()
            # The browser profile holds the burner's cookies: it never outlives the cast.
            shutil.rmtree(self.runtime if self._own_runtime else self.runtime / PROFILE,
                          ignore_errors=True)  # fmt: skip
            self.reaper.done()

    async def _serve_health(self) -> web.AppRunner:
        s = self.settings
        try:
            runner = await health.serve(self.health, s.metrics_bind, s.metrics_port)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise UserError(
                f"cannot serve metrics on {s.metrics_bind}:{s.metrics_port}: {exc.strerror or exc}",
                ExitCode.UNAVAILABLE,
            ) from None
        self.metrics_port = runner.addresses[0][1]
        return runner

    async def _cast(self, destinations: list[Any]) -> str:
        assert self.watch is not None
        if not await self.watch.wait_until_running(self.stop_requested):
            return "terminated" if self.stop_requested.is_set() else "space_ended"
        await self._start_processes(destinations)
        return await self._loop()

    async def _start_processes(self, destinations: list[Any]) -> None:
        s = self.settings
        assert self.watch is not None
        self.display = Display(s.display, s.width, s.height)
        self.audio = AudioServer(s.sink, self.runtime)
        self.browser = Browser(
            chromium=s.chromium,
            sandbox=s.chromium_sandbox,
            width=s.width,
            height=s.height,
            fps=s.fps,
            display=s.display,
            pulse_env=self.audio.env,
            sink=s.sink,
            runtime_dir=self.runtime,
            page_url=self.watch.page_url,
            cookies=self.watch.cookies,
            base_url=self.x.x_base_url,
            ca_file=self.x.x_ca_file,
            stall_s=s.stall_seconds,
        )
        # Start-up is CPU-bound: Playwright's driver starts while the display and the sound do.
        driver = asyncio.create_task(self._browser_step(self.browser.open()))
        try:
            await self.display.start()
            await self.audio.start()
        except RuntimeError as exc:
            driver.cancel()
            raise UserError(str(exc), ExitCode.SESSION_FAILED) from None
        # The meter first: its stream wakes the sink (audio.AudioServer) for every later reader.
        self.meter = Meter(s.sink, self.audio.socket, METER_WINDOW_S, s.silence_db,
                           stall_seconds=s.stall_seconds)  # fmt: skip
        await self.meter.start()
        encoder = EncoderSettings.from_settings(s)
        if s.calibrate and (found := await self._start_calibration(encoder)):
            self.calibration, self.browser.prelude = found, found.run
        await driver
        await self._browser_step(self.browser.start())
        self.fanout = FanOut(destinations, s.reconnect_window_seconds, s.wedge_seconds,
                             s.rtmps_ca_file)  # fmt: skip
        self.fanout.start()  # connect to the destinations while the calibration runs
        measured = await self._calibrated() if self.calibration else None
        encoder = encoder.model_copy(
            update={"audio_delay_ms": calibration.applied(measured, s.audio_delay_ms)}
        )
        self.pusher = Pusher(
            encoder, s.display, s.sink, self.audio.socket, self.fanout,
            stall_seconds=s.stall_seconds,
        )  # fmt: skip
        await self.pusher.start()
        # When the rescue's playlist goes away, ask X at once whether the Space ended.
        plain = urlsplit(self.x.x_base_url).scheme == "http"  # the chart's trial mode
        self.rescue = Rescue(
            self.audio, self._hls_location, on_stream_lost=self.watch.nudge, plain_http=plain
        )
        if self.reporter:
            self.reporter.start()

    @staticmethod
    async def _browser_step(step: Awaitable[None]) -> None:
        try:
            await step
        except Exception as exc:  # Playwright's driver or the browser binary is unusable
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise UserError(
                f"cannot start the browser: {type(exc).__name__}: {first}", ExitCode.SESSION_FAILED
            ) from None

    async def _start_calibration(self, encoder: EncoderSettings) -> Calibration | None:
        """Its capture opens the display and the sink while Chromium launches."""
        assert self.audio is not None
        found = Calibration(encoder, self.settings.display, self.settings.sink, self.audio.socket)
        try:
            await found.start()
        except Exception as exc:  # ffmpeg cannot start: the cast goes on with the fixed delay
            log.warning("calibration failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return None
        return found

    async def _calibrated(self) -> calibration.Result | None:
        """The measured offset, or None (the fixed delay) when it cannot come in time: a
        browser that will not launch must not hold the cast back."""
        assert self.calibration is not None
        done = self.calibration.done
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self.stop_requested.wait())
        waits: list[asyncio.Future[Any]] = [done, stopping]
        await asyncio.wait(waits, timeout=CALIBRATION_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        result = done.result() if done.done() else None
        if not done.done():  # the browser is late: the cast starts, and the beeps never play
            await self.calibration.abandon()
        if result is None:
            log.warning("A/V offset not measured: using the fixed delay",
                        audio_delay_ms=self.settings.audio_delay_ms)  # fmt: skip
        else:
            log.info("A/V offset measured", offset_ms=result.offset_ms, pairs=result.pairs,
                     spread_ms=result.spread_ms)  # fmt: skip
        return result

    async def _hls_location(self) -> str:
        assert self.watch is not None and self.browser is not None
        return await self.watch.stream_location(self.browser.view.media_key)

    async def _loop(self) -> str:
        assert self.watch is not None and self.fanout is not None
        while not self.stop_requested.is_set():
            if self.fanout.all_rejected:
                raise UserError(
                    "publish rejected: " + self._first_error(), ExitCode.PUBLISH_REJECTED
                )
            if self.fanout.all_down_for_good:
                raise UserError(
                    "every destination is down: " + self._first_error(), ExitCode.INGEST_LOST
                )
            if self.watch.ended or (
                self.browser and self.browser.view.space_state in ("Ended", "TimedOut")
            ):
                return "space_ended"
            await self._rescue_if_needed()
            stalled = self._restart_stalled()
            vitals = self._vitals()
            ready = health.readiness(vitals, window_s=self.settings.ready_window_seconds)
            ready += [f"{name} stalled {age:.0f} s: restarting" for name, age in stalled]
            self.health.beat(vitals, ready)
            self._report(vitals, live=not ready)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_requested.wait(), TICK_S)
        return "terminated"

    def _restart_stalled(self) -> list[tuple[str, float]]:
        """Liveness from progress: a process that stopped producing is restarted."""
        now, found = time.monotonic(), []
        for process in (self.pusher, self.meter):
            if process and (age := process.stalled_for(now)):
                process.kill_stalled(age)
                found.append((process.name, age))
        return found

    def _first_error(self) -> str:
        assert self.fanout is not None
        return next((d.error for d in self.fanout.destinations if d.error), "no details")

    async def _rescue_if_needed(self) -> None:
        assert self.rescue is not None and self.meter is not None and self.browser is not None
        now = time.monotonic()
        listening = self.browser.listening.is_set()
        wanted = should_engage(
            running=self.watch is not None and self.watch.running,
            silent_for=self.meter.window.silent_for(now),
            starved_for=self.browser.view.starved_for(now) if listening else 0.0,
            silence_seconds=self.settings.silence_seconds,
            starved_seconds=self.settings.starved_seconds,
        )
        if self.settings.rescue and self.rescue.idle and wanted:
            await self.rescue.engage()
        await self.rescue.tick()

    def _report(self, vitals: health.Vitals, live: bool) -> None:
        """The live facts, once media flows (before that there is nothing to tell)."""
        if self.reporter and self.rescue and (live or self.reporter.reported):
            silent = vitals.silent_for >= self.settings.silent_report_seconds
            self.reporter.update(Facts(self.rescue.source, silent))

    def _vitals(self) -> health.Vitals:
        assert self.fanout and self.pusher and self.meter and self.watch
        now = time.monotonic()
        last = self.pusher.last_output
        return health.Vitals(
            space_running=self.watch.running,
            publishing=self.fanout.publishing,
            output_age=None if last is None else now - last,
            silent_for=self.meter.window.silent_for(now),
        )

    async def _teardown(self) -> None:
        """Stop the audio sources, flush the pusher to the destinations, then the rest."""
        for part in (self.reporter, self.rescue, self.calibration, self.browser, self.meter):
            if part:
                await part.stop()
        if self.pusher and self.fanout:
            await self.pusher.stop()
            await self.fanout.drain(FLUSH_S)
            await self.fanout.stop()
        for process in (self.audio, self.display):
            if process:
                await process.stop()
        if self.watch:
            await self.watch.close()

    def _summary(self, reason: str, code: int, message: str = "") -> Summary:
        dests = self.fanout.destinations if self.fanout else []
        rows = [
            {"index": d.index, "state": d.state.value, "reconnects": d.reconnects} for d in dests
        ] or [  # failed before publishing began: the destinations as given
            {"index": i, "state": "idle", "reconnects": 0} for i in range(self.destinations_given)
        ]
        return Summary(
            space_id=self.watch.space_id if self.watch else "",
            reason=reason,
            exit_code=int(code),
            message=message,
            duration_seconds=round(time.monotonic() - self.started, 1),
            bytes_sent=sum(d.bytes_sent for d in dests),
            reconnects=sum(d.reconnects for d in dests),
            rescue_activations=self.rescue.activations if self.rescue else 0,
            audio_source=self.rescue.source if self.rescue else "none",
            **summarize_destinations(rows),
        )

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_requested.set)
