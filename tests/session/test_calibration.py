"""The A/V calibration (spacecast/session/calibration.py): its parsing and arithmetic as pure
functions, and a real cast whose sound path is made late on purpose, which the calibration
must measure and correct."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest

from simulator.server import Simulator
from spacecast.session import calibration, commands
from spacecast.session.settings import SessionSettings
from tests import avsync
from tests.session.conftest import MakeSim, StartCast, cast_sim, wait_for

PRINTED = """frame:0    pts:10     pts_time:0.01
lavfi.signalstats.YAVG=16.000
frame:1    pts:43     pts_time:0.043
lavfi.signalstats.YAVG=235.000
frame:2    pts:76     pts_time:0.076
lavfi.signalstats.YAVG=235.000
frame:3    pts:110    pts_time:0.11
lavfi.signalstats.YAVG=16.000
frame:4    pts:143    pts_time:0.143
lavfi.signalstats.YAVG=200.5
""".splitlines()


def test_frames_and_flashes_read_ffmpegs_metadata_print() -> None:
    lumas = calibration.frames(PRINTED)
    assert lumas == [(0.01, 16.0), (0.043, 235.0), (0.076, 235.0), (0.11, 16.0), (0.143, 200.5)]
    assert calibration.flashes(lumas) == [0.043, 0.143]  # rises only, not frames that stay white


def test_a_value_without_its_frame_line_is_ignored() -> None:
    assert calibration.frames(["lavfi.silence_end=1.5", "junk", "frame:0 pts:1 pts_time:2"]) == []


def test_the_offset_is_the_median_of_the_pairs_that_line_up() -> None:
    beeps = [1.0, 1.2, 1.4, 1.6, 1.8]
    flashes = [1.03, 1.235, 1.43, 1.62, 1.95]  # the last flash is late (a frame dropped)
    assert calibration.offset(beeps, flashes) == calibration.Result(30, pairs=4, spread_ms=15)


@pytest.mark.parametrize("late_s", [0.275, 0.17, -0.26, 0.9])
def test_a_path_later_than_the_gaps_is_never_taken_for_a_shorter_one(late_s: float) -> None:
    beeps = [2.0 + sum(calibration.GAPS_S[:i]) for i in range(calibration.BEEPS)]
    jitters = [0, 0.02, 0.01, 0.03, 0.015]  # the grab catches each flash a little late
    flashes = [b + late_s + jitter for b, jitter in zip(beeps, jitters, strict=True)]
    flashes += [9.0]  # and a flash that belongs to nothing
    result = calibration.offset(beeps, flashes)
    assert result is not None and result.pairs == calibration.BEEPS
    assert abs(result.offset_ms - 1000 * (late_s + 0.015)) <= 5


def test_too_few_pairs_or_an_offset_too_large_measure_nothing() -> None:
    assert calibration.offset([1.0, 2.0, 3.0], [1.05, 2.05]) is None  # two pairs
    assert calibration.offset([1.0, 2.0, 3.0], [9.0]) is None  # nothing near
    assert calibration.offset([1.0, 2.0, 3.0], [2.2, 3.2, 4.2]) is None  # over a second
    assert calibration.offset([1.0, 2.0, 3.0], [0.6, 1.6, 2.6]) == calibration.Result(-400, 3, 0)


def test_the_measured_offset_replaces_the_fixed_one() -> None:
    assert calibration.applied(calibration.Result(-120, 5, 20), fixed_ms=90) == -120
    assert calibration.applied(None, fixed_ms=90) == 90


# Chromium plays into a sink of its own, and a loopback carries it into the cast's sink this
# late: the sound of every page, the calibration's as the Space's, arrives after its picture.
LATE_MS = 300
LATE_CHROMIUM = """#!/bin/sh
if ! pactl list short modules | grep -q sink_name=late; then
  pactl load-module module-null-sink sink_name=late >/dev/null
  pactl suspend-sink late 1  # woken with its reader attached, as the session's own sink
  pactl load-module module-loopback source=late.monitor sink="$PULSE_SINK" \\
    latency_msec={late} source_dont_move=true sink_dont_move=true >/dev/null
  pactl suspend-sink late 0
fi
PULSE_SINK=late exec {chromium} "$@"
"""


@pytest.fixture
def late_chromium(tmp_path: Path) -> Path:
    path = tmp_path / "late-chromium"
    path.write_text(LATE_CHROMIUM.format(late=LATE_MS, chromium=SessionSettings().chromium))
    path.chmod(0o755)
    return path


def recorded_offset_ms(
    sim: Simulator, cast: StartCast, extra: tuple[str, ...], display: int
) -> float:
    assert sim.ingest is not None
    before = set(sim.ingest.recordings())
    run = cast(sim, "1AVSyncSpace1", display=display, extra_args=extra)
    wait_for("readiness", run.ready, 90)
    wait_for(
        "ten beeps and flashes at the ingest",
        lambda: (path := _new(sim, before)) is not None and len(avsync.offsets(path)) >= 10,
        90,
        every=2,
    )
    applied = run.metric("spacecast_av_offset_seconds")
    run.stop()
    recording = _new(sim, before)
    assert recording is not None
    found = avsync.offsets(recording)
    print(f"applied {applied * 1000:.0f} ms; recorded offsets (ms):",
          [round(1000 * o) for o in found])  # fmt: skip
    return 1000 * statistics.median(found)


def _new(sim: Simulator, before: set[Path]) -> Path | None:
    assert sim.ingest is not None
    return next((p for p in sim.ingest.recordings() if p not in before), None)


def test_a_late_sound_path_is_measured_and_corrected(
    make_sim: MakeSim, cast: StartCast, late_chromium: Path
) -> None:
    sim = cast_sim(make_sim, "kind=avsync,id=1AVSyncSpace1,start=-30,duration=0")
    browser = ("--chromium", str(late_chromium))
    # Without the calibration the late path shows: the sound trails its picture.
    fixed = recorded_offset_ms(
        sim, cast, (*browser, "--no-calibrate", "--audio-delay-ms", "0"), 156
    )
    assert fixed > LATE_MS / 2, fixed
    # With it, the session measures the lateness and holds the picture back to match.
    calibrated = recorded_offset_ms(sim, cast, browser, 157)
    assert abs(calibrated) < LATE_MS / 3, calibrated


class FakePage:
    """What the calibration asks of a page, recorded; `evaluate` plays until told to stop."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.playing = asyncio.Event()

    async def set_content(self, html: str) -> None:
        self.shown.append(html)

    async def evaluate(self, script: str) -> int:
        self.playing.set()
        await asyncio.sleep(3600)
        return 0


async def test_an_abandoned_calibration_never_plays() -> None:
    """Once the cast has started without it (the browser came late), its beeps would be pushed."""
    found = calibration.Calibration(commands.EncoderSettings(), ":1", "s", "/nowhere")
    found.capture.flowing.set()  # as if its ffmpeg ran: nothing else holds it back
    await found.abandon()
    page = FakePage()
    await asyncio.wait_for(found.run(page), 5)
    assert page.shown == [] and found.done.result() is None


async def test_a_calibration_abandoned_while_it_plays_stops_there() -> None:
    found = calibration.Calibration(commands.EncoderSettings(), ":1", "s", "/nowhere")
    found.capture.flowing.set()  # as if its ffmpeg ran
    page = FakePage()
    running = asyncio.create_task(found.run(page))
    await asyncio.wait_for(page.playing.wait(), 5)
    await found.abandon()
    await asyncio.wait_for(running, 5)  # returns, rather than raising or playing on
    assert page.shown == [calibration.PAGE] and found.done.result() is None
