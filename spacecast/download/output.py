"""The output file, written while the chunks are still arriving.

`Output` is where the joined ADTS stream goes: straight into the file for raw ADTS, or through
ffmpeg's stdin for m4a (fragmented MP4 is written front to back, so the remux keeps pace with
the download and the stream is never assembled on disk). A camera Space's pictures go to the
same ffmpeg through a second pipe, each segment restamped to its place in the joined audio
(`ts.retime`), so a gap filled with silence holds the last picture for its length and a skipped
one joins the pictures around it. `Joiner` feeds it in sequence order:
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

from spacecast.download import chunks, join, ts
from spacecast.download.workdir import WorkDir
from spacecast.errors import ExitCode, UserError
from spacecast.tasks import cancel_and_wait

REMUX_NICENESS = 10


class RemuxFailed(RuntimeError):
    def __init__(self, stderr: str) -> None:
        super().__init__(f"ffmpeg could not remux the joined audio: {stderr[-500:]}")


class _Pipe(asyncio.Protocol):
    """The writing end of the pictures' pipe, with flow control like a subprocess's stdin."""

    def __init__(self) -> None:
        self._writable = asyncio.Event()
        self._writable.set()
        self.lost = False

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._writable.set()

    async def drain(self) -> None:
        await self._writable.wait()
        if self.lost:
            raise ConnectionResetError("ffmpeg closed the pictures' pipe")


class Output:
    def __init__(self, fmt: str, dst: Path, video: bool = False) -> None:
        self.fmt, self.dst, self.video = fmt, dst, video
        self._file: IO[bytes] | None = None
        self._ffmpeg: asyncio.subprocess.Process | None = None
        self._pictures: tuple[asyncio.WriteTransport, _Pipe] | None = None

    async def open(self, lead_ticks: int = 0) -> None:
        if self.fmt == "aac":
            self._file = self.dst.open("wb")
            return
        if not self.video:
            self._ffmpeg = await asyncio.create_subprocess_exec(
                *join.remux_command(self.dst),
                stdin=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        else:
            read_end, write_end = os.pipe()
            try:
                self._ffmpeg = await asyncio.create_subprocess_exec(
                    *join.remux_video_command(self.dst, read_end, lead_ticks),
                    stdin=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    pass_fds=(read_end,),
                )
            except BaseException:
                os.close(write_end)
                raise
            finally:
                os.close(read_end)
            pipe = os.fdopen(write_end, "wb", 0)  # the transport owns it and closes it
            try:
                loop = asyncio.get_running_loop()
                self._pictures = await loop.connect_write_pipe(_Pipe, pipe)
            except BaseException:
                pipe.close()
                raise
        # Behind the download in the queue for the CPU: the remux runs in the download's idle
        # moments instead of delaying its responses, and it has all the time until the end.
        os.setpriority(os.PRIO_PROCESS, self._ffmpeg.pid, REMUX_NICENESS)

    def write(self, data: bytes, pictures: bytes = b"") -> None:
        # Never to a pipe ffmpeg has closed by quitting (a Ctrl-C reaches it too): uvloop refuses
        # that write with a RuntimeError, where drain() says it as a ConnectionError.
        if self._pictures is not None and pictures and not self._pictures[0].is_closing():
            self._pictures[0].write(pictures)
        if self._file is not None:
            self._file.write(data)
        elif (stdin := self._ffmpeg.stdin if self._ffmpeg else None) and not stdin.is_closing():
            stdin.write(data)

    async def drain(self) -> None:
        """Wait while ffmpeg is behind, so unwritten audio never piles up in memory."""
        if self._ffmpeg is not None and self._ffmpeg.stdin is not None:
            try:
                await self._ffmpeg.stdin.drain()
                if self._pictures is not None:
                    await self._pictures[1].drain()
            except ConnectionError:
                await self.close()  # ffmpeg has quit: raises with what it said, if anything
                raise RemuxFailed("ffmpeg quit before the end of the audio") from None

    def _release(self) -> asyncio.subprocess.Process | None:
        """Close the file and the pictures' pipe, if any; hand over ffmpeg, if any, for the
        caller to end."""
        if self._file is not None:
            self._file.close()
        if self._pictures is not None:
            self._pictures[0].close()  # the end of the pictures: what is buffered goes first
        self._pictures = None
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
    def __init__(self, work: WorkDir, fmt: str, dst: Path, video: bool = False) -> None:
        self.work, self.fmt, self.dst, self.video = work, fmt, dst, video
        self.output: Output | None = None
        self.first = self.next = 0
        self.frames = 0
        self.pictures = 0
        self._lead = 0  # how far the first picture comes before the first sound (ticks)
        self._stored = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def begin(self, first: int) -> None:
        """Start streaming from `first`, the Space's first sequence number."""
        self.first = self.next = first
        self._task = asyncio.create_task(self._follow())
        self._stored.set()

    def stored(self) -> None:
        """A chunk has been stored (called by the pool)."""
        self._stored.set()

    async def _open(self, first: join.Slot) -> Output:
        """The output, opened at the first write: a camera Space's first segment says where
        its audio starts against its picture."""
        if self.output is None:
            self._lead = 0
            chunk = self.work.stored.get(first) if isinstance(first, int) else None
            if self.video and chunk and chunk.pts is not None and chunk.video_pts is not None:
                ahead = (chunk.pts - chunk.video_pts) % chunks.PTS_WRAP
                self._lead = ahead if ahead < chunks.PTS_WRAP // 2 else 0
            output = Output(self.fmt, self.dst, self.video)
            try:
                await output.open(self._lead)
            except BaseException:  # cancelled half-way (finish stopping the streaming): an
                await output.abort()  # output is only kept once it is whole
                raise
            self.output = output
        return self.output

    def _pictures(self, seq: int) -> bytes:
        """The segment's pictures restamped to where its audio starts in the joined stream."""
        chunk = self.work.stored[seq]
        if not self.video or not chunk.video_bytes or chunk.pts is None:
            return b""
        place = join.VIDEO_BASE + self._lead + self.frames * chunks.PTS_PER_FRAME
        self.pictures += chunk.pictures
        return ts.retime(self.work.read_video(seq), place - chunk.pts)

    async def _write(self, seq: int) -> Output:
        """Write one chunk, and count it, with no await in between: a cancellation (finish
        stopping the streaming) never finds it written and not counted, to be written twice."""
        output = await self._open(seq)
        output.write(self.work.read(seq), self._pictures(seq))
        self.frames += self.work.stored[seq].frames
        return output

    async def _follow(self) -> None:
        while True:
            await self._stored.wait()
            self._stored.clear()
            while self.next in self.work.stored:
                output = await self._write(self.next)
                self.next += 1
                await output.drain()

    async def _stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await cancel_and_wait(task)

    async def finish(self, slots: Sequence[join.Slot], fill: bool) -> int:
        """Write what the plan has beyond the streamed part, close the file; frames written."""
        await self._stop()
        streamed = list(range(self.first, self.next))
        if list(slots[: len(streamed)]) != streamed:
            await self.abort()
            self.output, self.frames, self.pictures, streamed = None, 0, 0, []
        holes = fill and any(isinstance(slot, join.Gap) for slot in slots)
        silence = await asyncio.to_thread(join.silent_frame) if holes else b""
        for slot in slots[len(streamed) :]:
            if isinstance(slot, join.Gap):
                if fill:
                    output = await self._open(slot)
                    output.write(silence * slot.frames)
                    self.frames += slot.frames
                    if not self.video:  # ffmpeg reads the sound no further than the pictures:
                        await output.drain()  # a gap's silence waits in memory for them
            else:
                await (await self._write(slot)).drain()
        await (await self._open(slots[0] if slots else 0)).close()
        return self.frames

    async def abort(self) -> None:
        """Stop writing, on the way out of a failure that is already being raised."""
        # A Ctrl-C reaches ffmpeg too (same process group), so the writer may have failed
        # with it; the interrupt is what the user must see, not the remux error.
        with contextlib.suppress(Exception):
            await self._stop()
        if self.output is not None:
            await self.output.abort()
