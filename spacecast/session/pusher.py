"""The pusher: ffmpeg grabs the display and the sink's monitor, encodes H.264/AAC and writes FLV
to stdout, which is fanned out to the RTMP destinations; its `-progress` reports (bitrate, fps,
dropped and duplicated frames, speed) arrive on a pipe of their own and become metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import deque

from pydantic import BaseModel

from spacecast.logs import get_logger
from spacecast.session import commands, metrics
from spacecast.session.destinations import FanOut
from spacecast.session.flv import FlvError, read_tags
from spacecast.session.process import ManagedProcess, pipe_lines

log = get_logger("session.pusher")
KBITS = re.compile(r"^([\d.]+)kbits/s$")
RATE_WINDOW_S = 5.0
FLUSH_S = 5.0


class Progress(BaseModel):
    """One `-progress` block of ffmpeg."""

    frame: int = 0
    fps: float = 0.0
    bitrate_bps: float | None = None
    total_size: int = 0
    out_time_s: float = 0.0
    dup_frames: int = 0
    drop_frames: int = 0
    speed: float | None = None

    @classmethod
    def parse(cls, block: dict[str, str]) -> Progress:
        def num(key: str, cast: type = float) -> object:
            try:
                return cast(block[key])
            except (KeyError, ValueError):
                return None

        rate = KBITS.match(block.get("bitrate", "").strip())
        speed = block.get("speed", "").strip().rstrip("x")
        fields = {
            "frame": num("frame", int),
            "fps": num("fps"),
            "total_size": num("total_size", int),
            "dup_frames": num("dup_frames", int),
            "drop_frames": num("drop_frames", int),
            "out_time_s": (num("out_time_us", int) or 0) / 1e6,  # type: ignore[operator]
            "bitrate_bps": float(rate[1]) * 1000 if rate else None,
            "speed": float(speed) if re.fullmatch(r"[\d.]+", speed) else None,
        }
        return cls(**{k: v for k, v in fields.items() if v is not None})


class Pusher(ManagedProcess):
    name = "pusher"
    stdout_is_data = True

    def __init__(
        self,
        encoder: commands.EncoderSettings,
        display: str,
        sink: str,
        socket: str,
        fanout: FanOut,
        stall_seconds: float | None = None,
    ) -> None:
        super().__init__()
        self.stall_seconds = stall_seconds  # FLV tags must keep coming
        self.encoder, self.display, self.sink, self.socket = encoder, display, sink, socket
        self.fanout = fanout
        self.progress: Progress | None = None
        self._pipe: tuple[int, int] | None = None
        self._last = Progress()
        self._samples: deque[tuple[float, int]] = deque()
        self.bitrate_bps = 0.0
        self.last_output: float | None = None  # monotonic time of the encoder's last FLV tag
        self._tasks: list[asyncio.Task[None]] = []

    def extra_fds(self) -> list[int]:
        self._pipe = os.pipe()
        return [self._pipe[1]]

    def command(self) -> commands.Command:
        assert self._pipe is not None
        return commands.pusher(
            self.encoder, self.display, self.sink, self.socket, self._pipe[1], time.time()
        )

    def after_spawn(self) -> None:
        assert self._pipe is not None
        os.close(self._pipe[1])

    async def attached(self, proc: asyncio.subprocess.Process) -> None:
        assert self._pipe is not None and proc.stdout is not None
        self.fanout.new_stream()
        self._last = Progress()
        self._samples.clear()
        self._tasks = [
            asyncio.create_task(self._forward(proc.stdout)),
            asyncio.create_task(self._read_progress(self._pipe[0])),
        ]

    async def _forward(self, stdout: asyncio.StreamReader) -> None:
        try:
            async for tag in read_tags(stdout):
                self.last_output = time.monotonic()
                self.progressed()
                self.fanout.feed(tag)
        except FlvError as exc:
            log.error("encoder output unusable", error=str(exc))

    async def _read_progress(self, fd: int) -> None:
        block: dict[str, str] = {}
        async for line in pipe_lines(fd):
            key, _, value = line.decode(errors="replace").strip().partition("=")
            block[key] = value
            if key == "progress":
                self._publish(Progress.parse(block))
                block = {}

    def windowed_bitrate(self, progress: Progress) -> float | None:
        """Bits per second over the last few seconds (ffmpeg's own figure is a run average,
        which hides a cast that fell silent an hour in)."""
        self._samples.append((progress.out_time_s, progress.total_size))
        while len(self._samples) > 2 and self._samples[-1][0] - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        return (s1 - s0) * 8 / (t1 - t0) if t1 - t0 >= 1.0 else progress.bitrate_bps

    def _publish(self, progress: Progress) -> None:
        self.progress = progress
        rate = self.windowed_bitrate(progress)
        if rate is not None:
            self.bitrate_bps = rate
            metrics.PUSH_BITRATE.set(round(rate))
        metrics.PUSH_FPS.set(progress.fps)
        if progress.speed is not None:
            metrics.ENCODER_SPEED.set(progress.speed)
        metrics.DROPPED_FRAMES.inc(max(0, progress.drop_frames - self._last.drop_frames))
        metrics.DUPLICATED_FRAMES.inc(max(0, progress.dup_frames - self._last.dup_frames))
        self._last = progress

    async def stop(self) -> None:
        """SIGTERM makes ffmpeg flush its encoders; forward what it flushes before letting go."""
        await super().stop()
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._tasks[0]), FLUSH_S)
        for task in self._tasks:
            task.cancel()
