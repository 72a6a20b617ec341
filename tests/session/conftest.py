"""Fixtures for sessions run for real: the simulator with its RTMP ingest, secret files, and a
`spacecast session` subprocess observed through its metrics, logs and exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.server import Simulator
from tests.simulator.conftest import MakeSim, make_sim, sim

__all__ = ["MakeSim", "make_sim", "sim"]

STREAM_KEY = "live_7f3a9c2e51SECRETKEY"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef01234567"
CT0 = "fedcba98" * 20


def wait_for(what: str, check: Callable[[], Any], seconds: float = 60, every: float = 0.25) -> Any:
    """Poll a condition until it holds (returning its value) or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CastRun:
    proc: subprocess.Popen[bytes]
    metrics_port: int
    log_path: Path
    termination_log: Path

    def metrics(self) -> dict[str, float]:
        """Samples by name{labels}; empty when the endpoint is not up (yet, or any more)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return {}
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out

    def metric(self, name: str) -> float:
        return self.metrics().get(name, float("nan"))

    def ready(self) -> bool:
        try:
            return (
                httpx.get(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=5).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_exit(self, seconds: float = 60) -> int:
        return self.proc.wait(seconds)

    def summary(self) -> dict[str, Any]:
        return json.loads(self.termination_log.read_text())  # type: ignore[no-any-return]


StartCast = Callable[..., CastRun]


def session_argv(space_id: str, work: Path, display: int, metrics_port: int) -> list[str]:
    return [
        sys.executable, "-m", "spacecast.cli", "session", "--space", space_id,
        "--destinations-file", str(work / "destinations"),
        "--cookies-file", str(work / "cookies.json"),
        "--display", f":{display}", "--sink", f"spacecast{display}",
        "--metrics-port", str(metrics_port), "--metrics-bind", "127.0.0.1",
        "--termination-log", str(work / "termination-log"), "--state-poll-seconds", "2",
        "--runtime-dir", str(work / "runtime"),
    ]  # fmt: skip


@pytest.fixture
def cast(tmp_path: Path) -> Iterator[StartCast]:
    """Start `spacecast session` against a simulator; stopped if a test leaves it running."""
    runs: list[CastRun] = []

    def start(
        sim: Simulator, space_id: str, *, key: str = STREAM_KEY, display: int = 150
    ) -> CastRun:
        assert sim.ingest is not None
        work = tmp_path / f"cast{len(runs)}"
        work.mkdir()
        (work / "destinations").write_text(sim.ingest.url(key) + "\n")
        (work / "cookies.json").write_text(json.dumps({"auth_token": AUTH_TOKEN, "ct0": CT0}))
        env = os.environ | {
            "SPACECAST_X_BASE_URL": sim.https_url, "SPACECAST_X_API_BASE_URL": sim.https_url,
            "SPACECAST_X_CA_FILE": sim.ca_file, "SPACECAST_LOG_FORMAT": "json",
        }  # fmt: skip
        port = free_port()
        with (work / "session.log").open("wb") as log_file:
            proc = subprocess.Popen(
                session_argv(space_id, work, display, port),
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        runs.append(CastRun(proc, port, work / "session.log", work / "termination-log"))
        return runs[-1]

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.terminate()
            try:
                run.proc.wait(30)
            except subprocess.TimeoutExpired:
                run.proc.kill()


def cast_sim(make_sim: MakeSim, *spaces: str) -> Simulator:
    return make_sim(
        space=list(spaces),
        ingest=True,
        ingest_port=0,
        ingest_keys=[STREAM_KEY],
        valid_auth_tokens=[AUTH_TOKEN],
    )


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def mean_volume(path: Path, audio_filter: str = "") -> float:
    chain = f"{audio_filter},volumedetect" if audio_filter else "volumedetect"
    err = subprocess.run(
        ["ffmpeg", "-nostdin", "-i", str(path), "-vn", "-af", chain, "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    line = next(row for row in err.splitlines() if "mean_volume" in row)
    return float(line.split("mean_volume:")[1].split("dB")[0])


def tone_excess_db(path: Path, hz: int) -> float:
    """How far a narrow band at `hz` stands above one beside it: a steady tone stands out by
    20 dB or more; speech does not."""

    def band(f: float) -> float:
        return mean_volume(path, f"bandpass=f={f}:width_type=q:w=200")

    return band(hz) - band(hz * 1.07)
