"""One nginx of the simulator's (the RTMP ingest, the HTTP/2 front): its own prefix in a
temporary directory, in the foreground, killed with the simulator's thread (PDEATHSIG), up once
its port answers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from spacecast import children

PREAMBLE = """
daemon off;
master_process off;
pid nginx.pid;  # in the prefix (a temporary dir): not /run, which a non-root nginx cannot write
error_log stderr warn;
events { worker_connections 512; }
"""


def listen(host: str, port: int) -> str:
    """nginx's listen address; `::` takes IPv4 too, as the simulator's own sockets do."""
    if host == "::":
        return f"[::]:{port} ipv6only=off"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def reach(bind: str) -> str:
    """Where this machine reaches a server that listens on `bind`."""
    return "127.0.0.1" if bind in ("", "0.0.0.0", "::", "localhost") else bind


def listening(port: int, host: str = "127.0.0.1") -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        return sock.connect_ex((host, port)) == 0


class Nginx:
    def __init__(self, what: str) -> None:
        self.what = what
        self.prefix = Path(tempfile.mkdtemp(prefix="spacecast-nginx-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def start(
        self,
        conf: str,
        port: int,
        modules: tuple[str, ...] = (),
        bind: str = "127.0.0.1",
        files: dict[str, bytes] | None = None,
    ) -> None:
        """Run nginx with `conf` (after `modules`, which nginx wants first, and the common
        preamble) until `port` answers where it listens (`bind`). `files` are written into
        the prefix first, readable by this user only (a key)."""
        if listening(
            port, reach(bind)
        ):  # nginx would fail to bind while the check below saw the other one
            raise RuntimeError(f"the {self.what}'s port {port} is in use")
        self.prefix.mkdir(parents=True, exist_ok=True)  # again after a stop (a restarted ingest)
        for name, data in (files or {}).items():
            fd = os.open(self.prefix / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        path = self.prefix / "nginx.conf"
        path.write_text("".join(f"load_module {m};\n" for m in modules) + PREAMBLE + conf)
        self._proc = subprocess.Popen(
            [shutil.which("nginx", path="/usr/sbin:/usr/bin") or "nginx",
             "-p", str(self.prefix), "-c", str(path), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            # Called on the simulator's own thread, which lives as long as the simulator: nginx
            # dies with it, even when whoever runs the simulator is SIGKILLed.
            preexec_fn=children.preexec(any_thread=True),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not listening(port, reach(bind)):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx ({self.what}) did not start on port {port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGQUIT)  # graceful: recordings are closed
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None
        shutil.rmtree(self.prefix, ignore_errors=True)
