"""Fixtures for sessions run for real: the simulator with its RTMP ingest, secret files, and a
`spacecast session` subprocess observed through its metrics, logs and exit."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.server import Simulator
from spacecast.session.local import LocalCast
from tests.simulator.conftest import MakeSim, make_sim, sim
from tests.wait import wait_for

__all__ = ["MakeSim", "make_sim", "sim", "wait_for"]

STREAM_KEY = "live_7f3a9c2e51SECRETKEY"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef01234567"
CT0 = "fedcba98" * 20


CastRun = LocalCast
StartCast = Callable[..., LocalCast]


@pytest.fixture
def cast(tmp_path: Path) -> Iterator[StartCast]:
    """Start `spacecast session` against a simulator with the burner's cookies; a session a test
    leaves running is stopped."""
    runs: list[LocalCast] = []

    def start(
        sim: Simulator,
        space_id: str,
        *,
        key: str = STREAM_KEY,
        display: int = 150,
        extra_args: tuple[str, ...] = (),
        more_destinations: tuple[str, ...] = (),
        rtmps: bool = False,
        reach: str | None = None,
    ) -> LocalCast:
        cookies = {"auth_token": AUTH_TOKEN, "ct0": CT0}
        runs.append(
            LocalCast.start(
                sim,
                space_id,
                tmp_path / f"cast{len(runs)}",
                key=key,
                cookies=cookies,
                display=display,
                extra_args=extra_args,
                more_destinations=more_destinations,
                rtmps=rtmps,
                reach=reach,
            )
        )
        return runs[-1]

    yield start
    for run in runs:
        run.stop()
        # pytest shows this only for a failed test: the session's own account of it, for CI
        print(f"--- last lines of {run.log_path}", *run.log_text().splitlines()[-80:], sep="\n")


def cast_sim(make_sim: MakeSim, *spaces: str, **settings: Any) -> Simulator:
    defaults = {"ingest_keys": [STREAM_KEY], "valid_auth_tokens": [AUTH_TOKEN]}
    return make_sim(space=list(spaces), ingest=True, ingest_port=0, **(defaults | settings))


def ingest_fault(sim: Simulator, **query: object) -> None:
    """Set a fault on the path to the ingest (the simulator's --ingest-proxy)."""
    answer = httpx.post(f"{sim.http_url}/_sim/ingest/fault", params=query)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text


def space_lever(sim: Simulator, space_id: str, action: str) -> dict[str, Any]:
    """Pull one of a Space's levers (start, end, disconnect, silence, speak); its state after."""
    answer = httpx.post(f"{sim.http_url}/_sim/spaces/{space_id}/{action}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


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


def packet_times(path: Path, stream: str) -> list[float]:
    """The presentation times of one stream's packets ("a" or "v"), in order."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    fields = (line.split(",")[0].strip() for line in out.splitlines())  # "1.402000," at times
    return [float(t) for t in fields if t not in ("", "N/A")]
