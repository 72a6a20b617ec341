"""A/V calibration: how much later this machine's display shows a picture than its sink hears the
matching sound, measured in the session's own browser, display and sound server before the Space
page is shown, and applied by the pusher (`commands.sync_filters`).

A fixed delay is one machine's figure: the display's latency depends on the CPU, the load and
Chromium's version. So the browser first shows a page that plays a few beeps and, for as long as
each is heard by the page's own audio clock (`AudioContext.getOutputTimestamp`, the clock a media
element presents its pictures against), turns the screen white. A capture with exactly the
pusher's inputs (`commands.capture_inputs`: x11grab and the sink's monitor, both stamped with the
wall clock) finds each beep's onset (the end of a silence) and each white frame's start; the
flashes are lined up with the beeps (`offset`), and the median of flash - beep over the pairs is
the offset: positive delays the sound, negative the picture.

Nothing of it reaches a destination: the pusher starts after the capture ends. A calibration
that cannot finish (the page, the capture or too few pairs) leaves the configured fixed delay in
place and says why; it never stops a cast.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

from spacecast.logs import get_logger
from spacecast.session import commands, metrics
from spacecast.session.process import ManagedProcess, pipe_lines

log = get_logger("session.calibration")

# Beep onsets this far apart, every gap unlike the others by 40 ms or more (see `offset`), and
# a silence of 0.1 s at least between two beeps; about 1 s in all.
GAPS_S = (0.17, 0.26, 0.21, 0.31)
BEEPS = len(GAPS_S) + 1
BEEP_S = 0.07  # long enough for two captured frames at 30 fps
TOLERANCE_S = 0.035  # a flash is seen at the next grab (up to 33 ms at 30 fps)
MIN_PAIRS = 3
LIMIT_MS = 1000  # what the pusher can apply (settings' audio_delay_ms bounds)
CAPTURE_START_S = 10.0  # the capture's inputs open in about 1 s; on a cold node, longer
PAGE_S = 10.0
PICTURE_TAIL_S = 0.15  # after the last beep, for its flash (the picture is often the later)

# The page. `calibrate(gaps, length)` resolves once the last beep has been heard.
# The sound is scheduled on the audio clock; the flash follows what that clock says is being
# heard now (getOutputTimestamp plus the time since), so the page adds no offset of its own.
PAGE = """<!doctype html><html><head><style>
html, body { margin: 0; height: 100%; background: #000; cursor: none; overflow: hidden }
#flash { position: fixed; inset: 0; background: #fff; display: none }
</style></head><body><div id="flash"></div><script>
window.calibrate = async (gaps, length) => {
  const ctx = new AudioContext();
  await ctx.resume();
  const since = performance.now();  // until the sound really flows, its clock stands still
  while (ctx.getOutputTimestamp().contextTime <= 0 && performance.now() - since < 3000)
    await new Promise((r) => setTimeout(r, 10));
  const flash = document.getElementById("flash"), beeps = [];
  for (let i = 0, at = ctx.currentTime + 0.1; i <= gaps.length; at += gaps[i++]) {
    const osc = ctx.createOscillator(), gain = ctx.createGain();
    osc.frequency.value = 1000; gain.gain.value = 0.5;
    osc.connect(gain).connect(ctx.destination);
    osc.start(at); osc.stop(at + length);
    beeps.push(at);
  }
  const end = beeps[beeps.length - 1] + length + 0.05;
  await new Promise((done) => {
    const frame = () => {
      const ts = ctx.getOutputTimestamp();
      const heard = ts.contextTime + (performance.now() - ts.performanceTime) / 1000;
      flash.style.display = beeps.some((b) => heard >= b && heard < b + length) ? "block" : "none";
      if (heard < end) requestAnimationFrame(frame); else done();
    };
    requestAnimationFrame(frame);
  });
  await ctx.close();
  return beeps.length;
};
</script></body></html>"""

BLANK = "<body style='background:#000'></body>"

PTS_TIME = re.compile(r"pts_time:(-?[\d.e+-]+)")
VALUE = re.compile(r"^lavfi\.[\w.]+=(-?[\d.e+-]+)$")


def frames(lines: list[str]) -> list[tuple[float, float]]:
    """(pts_time, value) of each frame the metadata filter printed: a `frame:N pts:P
    pts_time:T` line, then `lavfi.<key>=<value>` (ffmpeg's metadata=print format)."""
    out, at = [], None
    for line in lines:
        if (time_ := PTS_TIME.search(line)) is not None:
            at = float(time_[1])
        elif (value := VALUE.match(line.strip())) is not None and at is not None:
            out.append((at, float(value[1])))
            at = None
    return out


def flashes(lumas: list[tuple[float, float]], threshold: float = 128.0) -> list[float]:
    """Times of the frames where the picture turns white (a rise through `threshold`)."""
    return [
        t for (_, before), (t, y) in itertools.pairwise(lumas)
        if y > threshold >= before
    ]  # fmt: skip


@dataclass(frozen=True)
class Result:
    offset_ms: int  # how much later the picture arrives than its sound
    pairs: int
    spread_ms: int  # the largest minus the smallest of the pairs' offsets


def offset(beeps: list[float], flash_times: list[float]) -> Result | None:
    """Line the flashes up with the beeps: of every offset a (beep, flash) pair suggests, the
    one that pairs the most beeps with a flash within TOLERANCE_S (the smaller on a tie); the
    result is the median of those pairs. The beeps' uneven spacing (GAPS_S) makes a shift by
    one beep or more pair at most a beep or two, so a late path is never taken for a short one.
    None with fewer than MIN_PAIRS pairs."""
    best: tuple[tuple[int, float], list[float]] | None = None
    for guess in {f - b for b in beeps for f in flash_times if abs(f - b) <= LIMIT_MS / 1000}:
        paired = [min((f - b for f in flash_times), key=lambda d: abs(d - guess)) for b in beeps]
        paired = [d for d in paired if abs(d - guess) <= TOLERANCE_S]
        key = (len(paired), -abs(guess))
        if best is None or key > best[0]:
            best = (key, paired)
    if best is None or len(best[1]) < MIN_PAIRS:
        return None
    found = best[1]
    median = round(1000 * statistics.median(found))
    return Result(median, len(found), round(1000 * (max(found) - min(found))))


SILENCE = re.compile(r"\[silencedetect @ [^]]*\] \[info\] silence_(start|end): (-?[\d.e+-]+)")


class Capture(ManagedProcess):
    """The calibration's ffmpeg (`commands.calibration_capture`): silences as they start and
    end, from its stderr; the frames' lumas on a pipe of their own, which ffmpeg buffers until
    it exits: `finish()` stops it and reads them to their end."""

    name = "calibration"
    stdout_is_data = True

    def __init__(self, enc: commands.EncoderSettings, display: str, sink: str, socket: str) -> None:
        super().__init__()
        self.args = (enc, display, sink, socket, time.time())
        self.flowing = asyncio.Event()  # both inputs are open: frames go through
        self.beeps: list[float] = []  # onsets: where a silence ended
        self.all_heard = asyncio.Event()  # every beep, then a silence
        self._pipe: tuple[int, int] | None = None
        self._reader: asyncio.Task[list[str]] | None = None

    def extra_fds(self) -> list[int]:
        self._pipe = os.pipe()
        return [self._pipe[1]]

    def command(self) -> commands.Command:
        assert self._pipe is not None
        return commands.calibration_capture(*self.args, luma_fd=self._pipe[1])

    def after_spawn(self) -> None:
        assert self._pipe is not None
        os.close(self._pipe[1])

    async def attached(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and self._pipe is not None
        self._tasks.append(asyncio.create_task(self._progress(proc.stdout)))
        self._reader = asyncio.create_task(_collect(self._pipe[0]))

    async def _progress(self, stdout: asyncio.StreamReader) -> None:
        while line := await stdout.readline():
            if line.startswith(b"progress="):
                self.flowing.set()

    def heard(self, line: str) -> bool:
        if (found := SILENCE.search(line)) is None:
            return "[info]" in line  # ffmpeg's banner of streams: not worth a log line
        if found[1] == "end":
            self.beeps.append(float(found[2]))
        elif len(self.beeps) >= BEEPS:
            self.all_heard.set()
        return True

    async def finish(self) -> list[str]:
        """Stop it (SIGTERM: ffmpeg flushes its filters' files) and return the frames' lumas
        as printed."""
        await self.stop()
        assert self._reader is not None
        return await asyncio.wait_for(self._reader, 5)


async def _collect(fd: int) -> list[str]:
    return [line.decode(errors="replace") async for line in pipe_lines(fd)]


class Calibration:
    """The capture starts early (its inputs take a second to open, while Chromium launches); the
    browser calls `run(page)` before it shows the Space; `done` settles with what was measured.
    Once the cast has started without it (`abandon()`), it never plays: its beeps and flashes
    would go out to the destinations."""

    def __init__(self, enc: commands.EncoderSettings, display: str, sink: str, socket: str) -> None:
        self.capture = Capture(enc, display, sink, socket)
        self.done: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        self._abandoned = False
        self._measuring: asyncio.Task[Result | None] | None = None

    async def start(self) -> None:
        await self.capture.start()

    async def run(self, page: Any) -> None:
        """The browser's prelude. It never raises but for its own cancellation: whatever
        happens, `done` is settled."""
        result = None
        try:
            if not self._abandoned:
                self._measuring = asyncio.create_task(self._measure(page))
                result = await self._measuring
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the browser itself is stopping
            log.warning("calibration abandoned: the cast started without it")
        except Exception as exc:  # the page, the capture: the cast goes on with the fixed delay
            log.warning("calibration failed", error=str(exc).splitlines()[0][:300] if str(exc)
                        else type(exc).__name__)  # fmt: skip
        finally:
            await self.capture.stop()
            if not self.done.done():
                self.done.set_result(result)

    async def abandon(self) -> None:
        """The cast goes on without a measurement: whatever has not played never will."""
        self._abandoned = True
        if self._measuring is not None:
            self._measuring.cancel()
        await self.stop()

    async def _measure(self, page: Any) -> Result | None:
        capture = self.capture
        await asyncio.wait_for(capture.flowing.wait(), CAPTURE_START_S)
        await page.set_content(PAGE)
        await asyncio.wait_for(page.evaluate(f"calibrate({list(GAPS_S)}, {BEEP_S})"), PAGE_S)
        # The page is done when its clock says the last beep was heard; a sound path later than
        # Chromium knows (the measurement's very point) still carries beeps: wait for them.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(capture.all_heard.wait(), LIMIT_MS / 1000)
        await asyncio.sleep(PICTURE_TAIL_S)  # the last flash, if the picture trails
        await page.set_content(BLANK)
        lumas = await capture.finish()
        result = offset(capture.beeps, flashes(frames(lumas)))
        if result is None:  # the supervisor logs what it applies; here, why there is nothing
            log.warning("calibration inconclusive", beeps=len(capture.beeps))
        return result

    async def stop(self) -> None:
        await self.capture.stop()
        if not self.done.done():
            self.done.set_result(None)


def applied(result: Result | None, fixed_ms: int) -> int:
    """The delay the pusher applies: the measured one, else the configured fixed one."""
    value = result.offset_ms if result else fixed_ms
    metrics.AV_OFFSET.set(value / 1000)
    metrics.AV_CALIBRATED.set(1 if result else 0)
    return value
