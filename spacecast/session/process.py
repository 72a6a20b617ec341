"""One external process under supervision, with an explicit state machine:

    IDLE -> STARTING -> RUNNING -> (exited) -> BACKOFF -> STARTING ...
                                 -> STOPPING -> STOPPED        (stop() at any time)

Each process gets its own process group, so teardown reaches everything it spawned (no orphans,
no stale X locks); its stderr (and stdout, unless the owner reads it as data) goes into the
logs line by line; when it dies it is restarted after the shared backoff (`spacecast.backoff`:
its count is forgotten only once the process has stayed up for a while, so a crash loop slows
down instead of spinning) and the restart is counted. Subclasses attach readers to stdout or
extra pipes and decide when the process is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from spacecast import children
from spacecast.backoff import Backoff, RetryPolicy
from spacecast.logs import get_logger
from spacecast.session import metrics
from spacecast.session.commands import Command

log = get_logger("session.process")


async def pipe_lines(fd: int) -> AsyncIterator[bytes]:
    """The lines a child writes to a pipe of its own (its read end `fd`, closed at the end)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        while line := await reader.readline():
            yield line
    finally:
        transport.close()


class ProcState(enum.StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    STOPPED = "stopped"


class ManagedProcess:
    name = "process"
    stdout_is_data = False
    restart_policy = RetryPolicy(base_s=0.5, max_s=15.0)
    stop_timeout = 5.0
    # Liveness from progress: a process whose output has not moved for this long is stalled
    # (hung, frozen, SIGSTOPped: alive to the kernel, dead to the cast). None: not checked.
    stall_seconds: float | None = None
    # Its first output may take longer: on a cold node (an image just pulled) it loads its
    # libraries and opens its inputs first. Killing it at stall_seconds then only starts it
    # cold again, and again.
    first_output_grace_s = 20.0

    def __init__(
        self,
        command: Callable[[], Command] | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self._command = command
        self.on_exit = on_exit  # told when the process dies on its own, before the restart
        self.state = ProcState.IDLE
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        # At 0 from the start, so increase() counts the first restart too.
        metrics.PROCESS_RESTARTS.labels(process=self.name)
        self.backoff = Backoff(self.restart_policy)
        self.progress_at: float | None = None  # monotonic time its output last moved
        self.produced = False  # whether it has moved at all since its start
        self.stalls = 0
        self._supervise: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    def _set(self, state: ProcState) -> None:
        if state is not self.state:
            log.info(
                "process state", process=self.name, state=state.value, previous=self.state.value
            )
            self.state = state

    # Hooks for subclasses.
    def command(self) -> Command:
        assert self._command is not None, "give a command factory or override command()"
        return self._command()

    def extra_fds(self) -> list[int]:
        """File descriptors to hand to the child (made fresh for every spawn)."""
        return []

    async def attached(self, proc: asyncio.subprocess.Process) -> None:
        """Called right after spawning: start readers of stdout or other pipes."""

    async def ready(self) -> None:
        """Return once the process serves (e.g. a socket exists); raise if it cannot."""

    def after_spawn(self) -> None:
        """Close the parent's copies of fds handed to the child."""

    async def start(self) -> None:
        """Spawn and wait until ready; from then on it is kept running until stop()."""
        await self._spawn()
        self._supervise = asyncio.create_task(self._keep_running(), name=f"supervise-{self.name}")

    async def _spawn(self) -> None:
        self._set(ProcState.STARTING)
        fds = self.extra_fds()
        command = self.command()
        self.proc = await asyncio.create_subprocess_exec(
            *command.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ | command.env,
            start_new_session=True,  # its own process group, for a clean teardown
            pass_fds=fds,
            preexec_fn=children.preexec(),  # and it dies with us, even on SIGKILL
        )
        self.after_spawn()
        self._tasks = [asyncio.create_task(self._log_lines(self.proc.stderr, "stderr"))]
        if not self.stdout_is_data:
            self._tasks.append(asyncio.create_task(self._log_lines(self.proc.stdout, "stdout")))
        await self.attached(self.proc)
        await self.ready()
        self._set(ProcState.RUNNING)
        self.progress_at = time.monotonic()  # a process that never produces is stalled too
        self.produced = False
        self.backoff.up()

    async def _log_lines(self, stream: asyncio.StreamReader | None, which: str) -> None:
        if stream is None:
            return
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if text and not self.heard(text):
                log.info("process output", process=self.name, stream=which, line=text)

    def heard(self, line: str) -> bool:
        """A line of its stderr as it comes; True when the subclass took it as data."""
        return False

    def _stopping(self) -> bool:
        return self.state in (ProcState.STOPPING, ProcState.STOPPED)

    async def _keep_running(self) -> None:
        while not self._stopping():
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping():
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever it left behind in its group
            self._set(ProcState.BACKOFF)
            if self.on_exit:
                self.on_exit()
            delay = self.backoff.down()
            log.warning("process exited", process=self.name, code=code, retry_in=round(delay, 2))
            await self._restart_after(delay)

    async def _restart_after(self, delay: float) -> None:
        """Respawn after `delay`; a failed respawn is one more failure, backed off the same."""
        while not self._stopping():
            await asyncio.sleep(delay)
            self.restarts += 1
            metrics.PROCESS_RESTARTS.labels(process=self.name).inc()
            try:
                return await self._spawn()
            except Exception as exc:
                await self._kill_group()
                delay = self.backoff.down()
                log.warning("process restart failed", process=self.name, error=str(exc)[:300],
                            retry_in=round(delay, 2))  # fmt: skip

    def progressed(self) -> None:
        """Its output moved (a subclass calls this as data arrives)."""
        self.progress_at = time.monotonic()
        self.produced = True

    def stalled_for(self, now: float) -> float:
        """Seconds without progress, once past `stall_seconds` (or, before its first output,
        past `first_output_grace_s`); else 0."""
        if self.stall_seconds is None or self.state is not ProcState.RUNNING:
            return 0.0
        age = now - (self.progress_at or now)
        limit = self.stall_seconds if self.produced else max(self.stall_seconds,
                                                             self.first_output_grace_s)  # fmt: skip
        return age if age > limit else 0.0

    def kill_stalled(self, age: float) -> None:
        """SIGKILL the stalled process's group (a SIGSTOPped process gets it too); the
        supervision loop sees the exit and restarts it with the backoff."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.stalls += 1
        metrics.PROCESS_STALLS.labels(process=self.name).inc()
        log.warning("process stalled", process=self.name, seconds=round(age, 1))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.state is ProcState.STOPPED:
            return
        self._set(ProcState.STOPPING)
        if self._supervise:
            self._supervise.cancel()
        await self._kill_group()
        for task in self._tasks:
            task.cancel()
        self._set(ProcState.STOPPED)

    async def _kill_group(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        for sig, wait in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                await asyncio.wait_for(proc.wait(), wait)
                return
            except TimeoutError:
                continue
