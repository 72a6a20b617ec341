"""Child processes that cannot outlive us: own process group, killed as a group.

Every component runs in its own session (so its process group holds anything it forks),
is killed with its parent if Python dies abruptly (PR_SET_PDEATHSIG), and is registered so
that an atexit hook stops whatever a crashed test left running.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from spacecast import children
from spacecast.logs import get_logger

log = get_logger(__name__)

_running: set[ManagedProcess] = set()


class StartupError(RuntimeError):
    """A component did not become healthy; the message ends with its log tail."""


def free_ports(count: int) -> list[int]:
    """Distinct loopback TCP ports that were free a moment ago (the kernel picks them).

    All sockets stay bound until every port is picked, so no port is handed out twice.
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `check` until it is true; a check that raises counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """One component: started in its own process group, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        if self.running:
            return
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            # Off the main thread there is no PDEATHSIG (spacecast.children): the atexit
            # hook only.
            preexec_fn=children.preexec(),
        )
        _running.add(self)
        log.debug("process started", component=self.name, pid=self._proc.pid)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, SIGKILL it after `grace` seconds; idempotent."""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is not None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("process ignored SIGTERM; killing", component=self.name)
            # Also reaps grandchildren that outlived the leader.
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_healthy(self, check: Callable[[], bool], timeout: float) -> None:
        """Wait for `check`, failing fast (with the log tail) if the process exits."""

        def healthy() -> bool:
            if not self.running:
                raise StartupError(f"{self.name} exited early:\n{self.log_tail()}")
            return check()

        deadline = time.monotonic() + timeout
        while True:
            try:
                if healthy():
                    return
            except StartupError:
                raise
            except Exception:  # not reachable yet
                pass
            if time.monotonic() > deadline:
                raise StartupError(
                    f"{self.name} not healthy after {timeout:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)


def start_healthy(
    procs: dict[str, ManagedProcess],
    name: str,
    argv: Sequence[str],
    log_path: Path,
    healthy: Callable[[], bool],
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start a component, register it in `procs` (so a failed start is stopped with the rest)
    and wait until `healthy`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(name, argv, log_path, env)
    procs[name] = proc
    started = time.monotonic()
    proc.start()
    proc.wait_healthy(healthy, timeout)
    log.debug("component healthy", component=name, seconds=round(time.monotonic() - started, 2))
    return proc


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_running):
        proc.stop(grace=2.0)
