"""A real browser (Debian's Chromium, driven by Playwright) joins the simulator's Space pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from simulator.server import Simulator

from .conftest import space_of

pytestmark = pytest.mark.slow
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(ignore_https_errors=True)
    yield context.new_page()
    context.close()


def test_audio_space_plays_and_lights_up_speakers(sim: Simulator, page: Page) -> None:
    live = space_of(sim, "audio", "Running")
    with page.expect_response(lambda r: "AudioSpaceById" in r.url) as response:
        page.goto(live["page"])
    assert response.value.json()["data"]["audioSpace"]["metadata"]["media_key"] == live["media_key"]
    page.get_by_test_id("listen").click()
    page.wait_for_function("document.getElementById('space-audio').currentTime > 3", timeout=30_000)
    page.wait_for_selector(".speaker[data-speaking=true]", timeout=30_000)
    assert page.evaluate("document.getElementById('space-audio').readyState") >= 2
    assert page.locator(".speaker").count() == 3


def test_camera_space_player_is_starved(sim: Simulator, page: Page) -> None:
    cam = space_of(sim, "camera", "Running")
    page.goto(cam["page"])
    page.get_by_test_id("listen").click()
    page.wait_for_function(
        "document.getElementById('space-video').readyState === 1", timeout=30_000
    )
    refreshes = int(page.evaluate("document.body.dataset.refreshes"))
    page.wait_for_function(
        f"Number(document.body.dataset.refreshes) >= {refreshes + 1}", timeout=30_000
    )
    assert page.evaluate("document.getElementById('space-video').readyState") == 1


def test_ended_and_unknown_spaces(sim: Simulator, page: Page) -> None:
    page.goto(space_of(sim, "audio", "Ended")["page"])
    page.wait_for_selector("body[data-state=Ended]")
    assert page.get_by_test_id("listen").is_hidden()
    page.goto(sim.https_url + "/i/spaces/1ZZZZZZZZZZZZ")
    page.wait_for_selector("body[data-state=NotFound]")
