"""Chromium joins the Space as a listener, headful on the virtual display, playing into the sink.

    STOPPED -> LAUNCHING -> JOINING -> LISTENING
                   ^                      |  (crash, page closed, join failed)
                   +------ BACKOFF <------+

Debian's /usr/bin/chromium, driven by Playwright. The page's own AudioSpaceById response tells
the Space's state and media_key; the page's media element tells whether audio arrives at all
(a camera Space's player sits at readyState 1: starved).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Page, Playwright, Response, async_playwright
from playwright.async_api import Error as PlaywrightError

from spacecast.backoff import Backoff, RetryPolicy
from spacecast.logs import get_logger
from spacecast.session import metrics
from spacecast.x.auth import Cookies

log = get_logger("session.browser")

LISTEN_CONTROLS = (
    '[data-testid="listen"]',
    'button:has-text("Start listening")',
    'button:has-text("Listen")',
)
PROFILE = "chromium-profile"  # in the runtime folder; holds the cookies: removed at the end
RESTART_POLICY = RetryPolicy(base_s=1.0, max_s=20.0)  # a relaunch and rejoin take seconds
# The driver relays commands: no JIT needed (its code is interpreted: about 10 MiB less), and a
# small heap.
DRIVER_NODE_OPTIONS = "--max-semi-space-size=1 --max-old-space-size=32 --jitless"
ANONYMOUS_CONTROL = '[data-testid="anonymous"]'
MEDIA_READY_STATE_JS = """() => {
  const media = [...document.querySelectorAll('audio, video')].filter(m => m.src || m.srcObject);
  return media.length ? Math.max(...media.map(m => m.readyState)) : null;
}"""


class BrowserState(enum.StrEnum):
    STOPPED = "stopped"
    LAUNCHING = "launching"
    JOINING = "joining"
    LISTENING = "listening"
    BACKOFF = "backoff"


def chromium_args(width: int, height: int) -> list[str]:
    """Kiosk, autoplay allowed, no background throttling (a hidden tab must keep playing), and no
    calls home: the closed network would refuse them, many at a time."""
    return [
        "--kiosk",
        f"--window-size={width},{height}",
        "--window-position=0,0",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-renderer-backgrounding",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-dev-shm-usage",
        # One page, trusted enough: fold Chromium's helper processes into fewer (memory).
        "--disable-features=Translate,MediaRouter,AudioServiceOutOfProcess,"
        "IsolateOrigins,site-per-process,SpareRendererForSitePerProcess,BackForwardCache,"
        "WebUIOmniboxPopup,WebUIOmniboxAimPopup,"  # kiosk: no omnibox, no renderer for its popup
        # Energy Saver (`local_state`) would also delay timers to a 32 ms grid: keep them exact.
        "BatterySaverModeAlignWakeUps",
        "--enable-features=NetworkServiceInProcess2",
        "--in-process-gpu",
        "--renderer-process-limit=1",
        "--disable-site-isolation-trials",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--disable-gpu",
        "--password-store=basic",
    ]


def local_state(fps: int) -> dict[str, Any]:
    """Chromium's `Local State` for the fresh profile: Energy Saver always on (its pref's
    `kEnabled`, whatever the power source) when the cast takes at most 30 frames a second.
    Chromium then draws at 30 Hz, every frame sink throttled to it, instead of the display's
    60; x11grab takes 30 a second, so the other 30 were drawn for nothing, by the page's script
    and both compositors (a page that draws every frame: 0.19 -> 0.11 cores; the simulator's,
    which draws every other one only, -12%). No switch or display refresh rate
    does it (a 30 Hz Xvfb mode left Chromium at 60). Energy Saver's other parts: it freezes
    hidden pages only (ours is shown), and its aligned wake-ups are off (`chromium_args`)."""
    if fps > 30:
        return {}
    return {"performance_tuning": {"battery_saver_mode": {"state": 3}}}


def fresh_profile(profile: Path, fps: int) -> None:
    """An empty profile (no state from a crashed run) with its `Local State`."""
    shutil.rmtree(profile, ignore_errors=True)
    profile.mkdir(parents=True)
    (profile / "Local State").write_text(json.dumps(local_state(fps)))


# Without the sandbox (the default: the container is the boundary), one process does all: the
# renderer, the GPU and network services, and no zygotes to fork them (about 40 MiB less).
# With it, Chromium needs its zygote and separate renderers.
UNSANDBOXED_ARGS = ["--single-process", "--no-zygote"]


def trust_ca(home: Path, ca_file: str) -> None:
    """Make Chromium trust an extra CA (the simulator's) through its NSS database, so TLS stays
    verified rather than switched off."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"],
        check=False,
        capture_output=True,
    )
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{nssdb}",
            "-n",
            "spacecast-extra-ca",
            "-t",
            "C,,",
            "-i",
            ca_file,
        ],
        check=True,
        capture_output=True,
    )


def cookie_params(cookies: Cookies, base_url: str) -> list[dict[str, Any]]:
    host = urlsplit(base_url).hostname or "x.com"
    return [
        {
            "name": "auth_token",
            "value": cookies.auth_token,
            "domain": host,
            "path": "/",
            "httpOnly": True,
            "secure": True,
            "sameSite": "None",
        },
        {
            "name": "ct0",
            "value": cookies.ct0,
            "domain": host,
            "path": "/",
            "secure": True,
            "sameSite": "Lax",
        },
    ]


@dataclass
class PageView:
    """What the page has told us so far."""

    space_state: str | None = None
    media_key: str | None = None
    media_ready_state: int | None = None
    starved_since: float | None = None

    def starved_for(self, now: float) -> float:
        return now - self.starved_since if self.starved_since is not None else 0.0


class Browser:
    def __init__(
        self,
        *,
        chromium: str,
        sandbox: bool,
        width: int,
        height: int,
        fps: int,
        display: str,
        pulse_env: dict[str, str],
        sink: str,
        runtime_dir: Path,
        page_url: str,
        cookies: Cookies | None,
        base_url: str,
        ca_file: str | None,
        stall_s: float = 10.0,
        prelude: Callable[[Page], Awaitable[None]] | None = None,
    ) -> None:
        self.chromium, self.sandbox = chromium, sandbox
        self.stall_s = stall_s  # the page's heartbeat must answer within this
        # Run once, on the first launch, before the Space is shown (the A/V calibration).
        self.prelude = prelude
        self.width, self.height, self.fps = width, height, fps
        env = os.environ | pulse_env | {"DISPLAY": display, "PULSE_SINK": sink}
        self.env: dict[str, str | float | bool] = {
            **env,
            "HOME": str(runtime_dir / "chromium-home"),
        }
        self.profile = runtime_dir / PROFILE
        self.page_url, self.cookies, self.base_url, self.ca_file = (
            page_url,
            cookies,
            base_url,
            ca_file,
        )
        self.state = BrowserState.STOPPED
        self.view = PageView()
        self.restarts = 0
        metrics.PROCESS_RESTARTS.labels(process="browser")  # at 0 until the first
        self.listening = asyncio.Event()
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    def _set(self, state: BrowserState) -> None:
        if state is not self.state:
            log.info("browser state", state=state.value, previous=self.state.value)
            self.state = state
        if state is not BrowserState.LISTENING:
            self.listening.clear()

    async def open(self) -> None:
        """Start Playwright's driver (it needs neither the display nor the sound: it can start
        while they do)."""
        home = Path(str(self.env["HOME"]))
        await asyncio.to_thread(home.mkdir, parents=True, exist_ok=True)
        if self.ca_file:
            await asyncio.to_thread(trust_ca, home, self.ca_file)
        # Playwright's Node driver only relays commands: a small heap is plenty (and ~15 MB less).
        os.environ.setdefault("NODE_OPTIONS", DRIVER_NODE_OPTIONS)
        self._pw = await async_playwright().start()

    async def start(self) -> None:
        """Launch and join, and keep doing so (once the display and the sink are up)."""
        if self._pw is None:
            await self.open()
        self._task = asyncio.create_task(self._keep_listening(), name="browser")

    async def _keep_listening(self) -> None:
        backoff = Backoff(RESTART_POLICY)
        while True:
            try:
                await self._launch_and_join()
                backoff.up()
                await self._watch()
            except (PlaywrightError, TimeoutError, RuntimeError) as exc:
                log.warning("browser failed", error=str(exc).splitlines()[0][:300])
            await self._close()
            self._set(BrowserState.BACKOFF)
            await asyncio.sleep(backoff.down())
            self.restarts += 1
            metrics.PROCESS_RESTARTS.labels(process="browser").inc()

    async def _launch_and_join(self) -> None:
        assert self._pw is not None
        self._set(BrowserState.LAUNCHING)
        fresh_profile(self.profile, self.fps)
        self._closed.clear()
        self._context = await self._pw.chromium.launch_persistent_context(
            str(self.profile),
            executable_path=self.chromium,
            headless=False,
            chromium_sandbox=self.sandbox,
            args=chromium_args(self.width, self.height)
            + ([] if self.sandbox else UNSANDBOXED_ARGS),
            env=self.env,
            no_viewport=True,
            ignore_default_args=["--enable-automation"],
        )
        self._context.on("close", lambda _: self._closed.set())
        if self.cookies:
            await self._context.add_cookies(cookie_params(self.cookies, self.base_url))  # type: ignore[arg-type]
        page = self._context.pages[0] if self._context.pages else await self._context.new_page()
        page.on("response", self._on_response)
        page.on("crash", lambda _: self._closed.set())
        if self.prelude:
            prelude, self.prelude = self.prelude, None
            await prelude(page)
        self._set(BrowserState.JOINING)
        await page.goto(self.page_url, wait_until="domcontentloaded", timeout=30_000)
        await self._click_listen(page)
        self.view.starved_since = None
        self._set(BrowserState.LISTENING)
        self.listening.set()

    async def _click_listen(self, page: Page) -> None:
        listen = page.locator(", ".join(LISTEN_CONTROLS)).first
        await listen.wait_for(state="visible", timeout=30_000)
        anonymous = page.locator(ANONYMOUS_CONTROL)
        if await anonymous.count() and await anonymous.is_visible():
            await anonymous.check()  # listen without showing up in the listener list
        await listen.click()

    async def _on_response(self, response: Response) -> None:
        if "AudioSpaceById" not in response.url:
            return
        with contextlib.suppress(PlaywrightError, json.JSONDecodeError, KeyError, TypeError):
            meta = (await response.json())["data"]["audioSpace"]["metadata"]
            self.view.space_state = meta.get("state") or self.view.space_state
            self.view.media_key = meta.get("media_key") or self.view.media_key

    async def _watch(self) -> None:
        """Sample the page's media element until the browser goes away."""
        assert self._context is not None
        page = self._context.pages[0]
        while not self._closed.is_set():
            try:  # the page's heartbeat: a frozen renderer does not answer
                state = await asyncio.wait_for(page.evaluate(MEDIA_READY_STATE_JS), self.stall_s)
            except TimeoutError:
                metrics.PROCESS_STALLS.labels(process="browser").inc()
                raise RuntimeError(f"the page did not answer for {self.stall_s:.0f} s") from None
            now = time.monotonic()
            self.view.media_ready_state = state
            if state is not None:
                metrics.MEDIA_READY_STATE.set(state)
            starved = state is not None and state <= 1  # no element at all: cannot tell
            self.view.starved_since = (self.view.starved_since or now) if starved else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), 1.0)
        raise RuntimeError("the browser closed or crashed")

    async def _close(self) -> None:
        if self._context is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(self._context.close(), 10)
            self._context = None

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()
        if self._pw:
            await self._pw.stop()
            self._pw = None
        self._set(BrowserState.STOPPED)
