"""The output file, written while the chunks are still arriving.

`Output` is where the joined ADTS stream goes: straight into the file for raw ADTS, or through
ffmpeg's stdin for m4a (fragmented MP4 is written front to back, so the remux keeps pace with
the download and the stream is never assembled on disk). `Joiner` feeds it in sequence order:
once the start of the Space is known, each chunk goes out as soon as every chunk before it
has been stored, and at the end the rest follows the final plan (gaps and all). A plan that
does not begin with what was already streamed (a chunk older than the start turned up) is
written again from the top, so streaming early can only save time, never change the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from spacecast.download import join
from spacecast.download.workdir import WorkDir
from spacecast.errors import ExitCode, UserError

REMUX_NICENESS = 10


class RemuxFailed(RuntimeError):
    def __init__(self, stderr: str) -> None:
        super().__init__(f"ffmpeg could not remux the joined audio: {stderr[-500:]}")


class Output:
    def __init__(self, fmt: str, dst: Path) -> None:
        self.fmt, self.dst = fmt, dst
        self._file: IO[bytes] | None = None
        self._ffmpeg: asyncio.subprocess.Process | None = None

    async def open(self) -> None:
        if self.fmt == "aac":
            self._file = self.dst.open("wb")
            return
        self._ffmpeg = await asyncio.create_subprocess_exec(
            *join.remux_command(self.dst),
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        # Behind the download in the queue for the CPU: the remux runs in the download's idle
        # moments instead of delaying its responses, and it has all the time until the end.
        os.setpriority(os.PRIO_PROCESS, self._ffmpeg.pid, REMUX_NICENESS)

    def write(self, data: bytes) -> None:
        if self._file is not None:
            self._file.write(data)
        elif self._ffmpeg is not None and self._ffmpeg.stdin is not None:
            self._ffmpeg.stdin.write(data)

    async def drain(self) -> None:
        """Wait while ffmpeg is behind, so unwritten audio never piles up in memory."""
        if self._ffmpeg is not None and self._ffmpeg.stdin is not None:
            try:
                await self._ffmpeg.stdin.drain()
            except ConnectionError:
                await self.close()  # ffmpeg has quit: raises with what it said, if anything
                raise RemuxFailed("ffmpeg quit before the end of the audio") from None

    def _release(self) -> asyncio.subprocess.Process | None:
        """Close the file, if any; hand over ffmpeg, if any, for the caller to end."""
        if self._file is not None:
            self._file.close()
        proc, self._file, self._ffmpeg = self._ffmpeg, None, None
        return proc

    async def close(self) -> None:
        proc = self._release()
        if proc is None or proc.stdin is None:
            return
        proc.stdin.close()  # the end of the audio (communicate() leaves stdin open)
        with contextlib.suppress(ConnectionError):
            await proc.stdin.wait_closed()
        _, stderr = await proc.communicate()
        said = stderr.decode(errors="replace").strip()
        # ffmpeg exits 0 when the last write fails at close ("Error closing file ...: No space
        # left on device"): what it says counts, not only its exit code.
        if "No space left on device" in said or "Disk quota exceeded" in said:
            raise UserError(f"no space left on device: {self.dst}", ExitCode.DISK_FULL)
        if proc.returncode != 0 or "Error closing file" in said:
            raise RemuxFailed(said)

    async def abort(self) -> None:
        if (proc := self._release()) is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


class Joiner:
    def __init__(self, work: WorkDir, fmt: str, dst: Path) -> None:
        self.work, self.fmt, self.dst = work, fmt, dst
        self.output: Output | None = None
        self.first = self.next = 0
        self.frames = 0
        self._stored = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def begin(self, first: int) -> None:
        """Start streaming from `first`, the Space's first sequence number."""
        self.first = self.next = first
        self.output = Output(self.fmt, self.dst)
        await self.output.open()
        self._task = asyncio.create_task(self._follow())
        self._stored.set()

    def stored(self) -> None:
        """A chunk has been stored (called by the pool)."""
        self._stored.set()

    async def _follow(self) -> None:
        assert self.output is not None
        while True:
            await self._stored.wait()
            self._stored.clear()
            while self.next in self.work.stored:
                self.output.write(self.work.read(self.next))
                self.frames += self.work.stored[self.next].frames
                self.next += 1
                await self.output.drain()

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def finish(self, slots: Sequence[join.Slot], fill: bool) -> int:
        """Write what the plan has beyond the streamed part, close the file; frames written."""
        await self._stop()
        streamed = list(range(self.first, self.next))
        if self.output is None or list(slots[: len(streamed)]) != streamed:
            await self.abort()
            self.output, self.frames, streamed = Output(self.fmt, self.dst), 0, []
            await self.output.open()
        holes = fill and any(isinstance(slot, join.Gap) for slot in slots)
        silence = await asyncio.to_thread(join.silent_frame) if holes else b""
        for slot in slots[len(streamed) :]:
            if isinstance(slot, join.Gap):
                if fill:
                    self.output.write(silence * slot.frames)
                    self.frames += slot.frames
            else:
                self.output.write(self.work.read(slot))
                self.frames += self.work.stored[slot].frames
            await self.output.drain()
        await self.output.close()
        return self.frames

    async def abort(self) -> None:
        """Stop writing, on the way out of a failure that is already being raised."""
        # A Ctrl-C reaches ffmpeg too (same process group), so the writer may have failed
        # with it; the interrupt is what the user must see, not the remux error.
        with contextlib.suppress(Exception):
            await self._stop()
        if self.output is not None:
            await self.output.abort()
