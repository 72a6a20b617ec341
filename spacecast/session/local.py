"""A real `spacecast session` run on this machine against the simulator and its RTMP ingest:
what the demo, the end-to-end tests and the benchmarks all start and watch (metrics, readiness,
JSON logs, exit, summary)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from spacecast import children

if TYPE_CHECKING:  # the session package does not depend on the simulator
    from simulator.server import Simulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_display(start: int = 99) -> int:
    """A display number with neither a socket nor a lock (another session or a stale server)."""
    sockets = Path("/tmp/.X11-unix")
    return next(
        n
        for n in range(start, start + 400)
        if not (sockets / f"X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists()
    )


def parse_metrics(text: str) -> dict[str, float]:
    """Samples keyed `name` or `name{label=value,...}` (labels sorted)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


@dataclass
class LocalCast:
    proc: subprocess.Popen[bytes]
    metrics_port: int
    workdir: Path

    @property
    def log_path(self) -> Path:
        return self.workdir / "session.log"

    @property
    def termination_log(self) -> Path:
        return self.workdir / "summary.json"

    @property
    def runtime_dir(self) -> Path:
        return self.workdir / "runtime"

    @classmethod
    def start(
        cls,
        sim: Simulator,
        space_id: str,
        workdir: Path,
        *,
        key: str,
        cookies: dict[str, str] | None = None,
        display: int | None = None,
        extra_args: tuple[str, ...] = (),
        more_destinations: tuple[str, ...] = (),
        rtmps: bool = False,
        reach: str | None = None,
    ) -> LocalCast:
        """Start a session on `space_id`, publishing to the simulator's ingest with `key`
        (destination 0; over RTMPS to its TLS front with `rtmps`), then to
        `more_destinations`. `reach`: an address of this machine to reach the simulator at,
        over plain HTTP with no CA, as a pod reaches the chart's in-cluster simulator."""
        assert sim.ingest is not None, "the simulator runs without its RTMP ingest"
        workdir.mkdir(parents=True, exist_ok=True)
        destinations = workdir / "destinations"
        first = sim.ingest.tls_url(key) if rtmps else sim.ingest.url(key)
        if reach:
            first = first.replace("127.0.0.1", reach, 1)
        destinations.write_text("\n".join([first, *more_destinations]) + "\n")
        destinations.chmod(0o600)
        display = display if display is not None else free_display()
        port = free_port()
        argv = [
            sys.executable, "-m", "spacecast.cli", "session", "--space", space_id,
            "--destinations-file", str(destinations),
            "--display", f":{display}", "--sink", f"spacecast{display}",
            "--metrics-port", str(port), "--metrics-bind", "127.0.0.1",
            "--state-poll-seconds", "2", "--termination-log", str(workdir / "summary.json"),
            "--runtime-dir", str(workdir / "runtime"),
            *(("--rtmps-ca-file", sim.ca_file) if rtmps else ()),
            *extra_args,
        ]  # fmt: skip
        if cookies:
            (workdir / "cookies.json").write_text(json.dumps(cookies))
            argv += ["--cookies-file", str(workdir / "cookies.json")]
        x = {"SPACECAST_X_BASE_URL": sim.https_url, "SPACECAST_X_API_BASE_URL": sim.https_url,
             "SPACECAST_X_CA_FILE": sim.ca_file}  # fmt: skip
        if reach:
            plain = f"http://{reach}:{sim.http_port}"
            x = {"SPACECAST_X_BASE_URL": plain, "SPACECAST_X_API_BASE_URL": plain}
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPACECAST_X_")}
        env |= x | {"SPACECAST_LOG_FORMAT": "json"}
        with (workdir / "session.log").open("wb") as log:
            proc = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=children.preexec()
            )  # dies with its starter
        return cls(proc, port, workdir)

    def _get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=5)
        except httpx.HTTPError:
            return None

    def metrics(self) -> dict[str, float]:
        """Empty while the endpoint is not up (yet, or any more)."""
        response = self._get("/metrics")
        return parse_metrics(response.text) if response is not None else {}

    def metric(self, name: str) -> float:
        return self.metrics().get(name, float("nan"))

    def ready(self) -> bool:
        response = self._get("/readyz")
        return response is not None and response.status_code == 200

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]

    def summary(self) -> dict[str, Any]:
        return json.loads(self.termination_log.read_text())  # type: ignore[no-any-return]

    def wait_exit(self, seconds: float = 60) -> int:
        return self.proc.wait(seconds)

    def stop(self, seconds: float = 30) -> int:
        """SIGTERM (a graceful end, as Kubernetes does), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()
