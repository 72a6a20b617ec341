"""X's RTMP ingest (Periscope's `fr.pscp.tv` for X broadcasts), stood in for by nginx with the
RTMP module: it accepts a publish only for a known stream key (asking the simulator over HTTP,
as nginx-rtmp's `on_publish` does) and records what it receives, one FLV file per publish."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from spacecast import children

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
APP = "x"


def nginx_conf(port: int, record_dir: Path, auth_url: str | None, host: str = "127.0.0.1") -> str:
    on_publish = f"on_publish {auth_url};" if auth_url else ""
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
pid nginx.pid;  # in the prefix (a temporary dir): not /run, which a non-root ingest cannot write
error_log stderr warn;
events {{ worker_connections 256; }}
rtmp {{
    access_log off;  # else the module's own default, /var/log/nginx: not ours to write
    server {{
        listen {listen};
        chunk_size 4096;
        application {APP} {{
            live on;
            record all;
            record_path {record_dir};
            record_unique on;
            {on_publish}
        }}
    }}
}}
"""


class Ingest:
    """nginx-rtmp on a port of `host` (loopback unless the simulator listens wider, as in a
    cluster); `url(key)` is what a broadcaster on this machine publishes to."""

    def __init__(
        self, port: int, record_dir: Path, auth_url: str | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.port, self.host = port, host
        self.record_dir = record_dir
        self.auth_url = auth_url
        self._prefix = Path(tempfile.mkdtemp(prefix="spacecast-ingest-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self.public_port: int | None = None  # a fault proxy's, when one stands in front
        self.tls_port: int | None = None  # the RTMPS front's (--ingest-tls)

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.public_port or self.port}/{APP}/{key}"

    def tls_url(self, key: str) -> str:
        assert self.tls_port, "the ingest runs without its RTMPS front (--ingest-tls)"
        return f"rtmps://127.0.0.1:{self.tls_port}/{APP}/{key}"

    def start(self) -> None:
        if self._listening():  # nginx would fail to bind while the check below saw the other one
            raise RuntimeError(f"the RTMP ingest's port {self.port} is in use")
        self.record_dir.mkdir(parents=True, exist_ok=True)
        conf = self._prefix / "nginx.conf"
        conf.write_text(nginx_conf(self.port, self.record_dir, self.auth_url, self.host))
        self._proc = subprocess.Popen(
            ["nginx", "-p", str(self._prefix), "-c", str(conf), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            # Called on the simulator's own thread, which lives as long as the simulator: nginx
            # dies with it, even when whoever runs the simulator is SIGKILLed.
            preexec_fn=children.preexec(any_thread=True),
        )
        deadline = time.monotonic() + 10
        while not self._listening():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx (RTMP ingest) did not start on port {self.port}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGQUIT)  # graceful: recordings are closed
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None

    def recordings(self) -> list[Path]:
        return sorted(self.record_dir.glob("*.flv"), key=lambda p: p.stat().st_mtime)
