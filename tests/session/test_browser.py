"""Chromium as the session launches it (spacecast/session/browser.py), for real: for a cast of
30 frames a second it draws 30 (Energy Saver, from the profile's `Local State`), for 60 it draws
at the display's own rate."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from playwright.async_api import async_playwright

from spacecast.session import browser
from spacecast.session.display import Display
from spacecast.session.local import free_display
from spacecast.session.settings import SessionSettings

# A page that draws every frame, as the Space's does, and keeps each frame's time.
PAGE = """<canvas id=c width=320 height=240></canvas><script>
window.times = [];
const c = document.getElementById('c').getContext('2d');
function draw(t) {
  window.times.push(t);
  c.fillStyle = 'hsl(' + (t / 10 % 360) + ',80%,50%)';
  c.fillRect(0, 0, 320, 240);
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
</script>"""


async def frame_intervals_ms(profile: Path, display: str, fps: int) -> list[float]:
    """The times between the page's frames (requestAnimationFrame's frame times), its first 10
    frames left out, in Chromium launched with the session's arguments and profile."""
    browser.fresh_profile(profile, fps)
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=SessionSettings.model_fields["chromium"].default,
            headless=False,
            chromium_sandbox=False,
            args=browser.chromium_args(320, 240) + browser.UNSANDBOXED_ARGS,
            env={**os.environ, "DISPLAY": display},
            no_viewport=True,
        )
        try:
            page = context.pages[0]
            await page.set_content(PAGE)
            await page.wait_for_function("window.times.length >= 100", timeout=60_000)
            times: list[float] = await page.evaluate("window.times")
        finally:
            await context.close()
    return [b - a for a, b in itertools.pairwise(times[10:])]


async def test_a_30_fps_cast_draws_30_frames_a_second(tmp_path: Path) -> None:
    display = Display(f":{free_display(180)}", 320, 240)
    await display.start()
    try:
        at_30 = await frame_intervals_ms(tmp_path / "at30", display.display, fps=30)
        at_60 = await frame_intervals_ms(tmp_path / "at60", display.display, fps=60)
    finally:
        await display.stop()
    # Energy Saver's frames are never closer than 1/30 s (a busy machine only spaces them
    # more); the display's own rate has frames 1/60 s apart, at least now and then.
    assert min(at_30) >= 30, sorted(at_30)[:5]
    assert min(at_60) < 25, sorted(at_60)[:5]
