"""Running `spacecast download` in-process against a real simulator, and checking its output
against the simulator's ground truth with real ffmpeg/ffprobe."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import m3u8
import pytest
import structlog

from simulator.server import Simulator
from spacecast.cli import main
from tests.simulator.conftest import make_sim, sim

__all__ = ["make_sim", "sim"]
# Fast retries and polling so faults and live Spaces play out in seconds.
FAST = [
    "--backoff-s", "0.02", "--backoff-max-s", "0.3", "--live-poll-s", "0.2",
    "--state-check-s", "0.3", "--wait-poll-s", "0.2", "--progress", "log",
]  # fmt: skip


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]


Download = Callable[..., Result]


@pytest.fixture
def download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Download]:
    """Run `spacecast download ARGS` against `sim`; output under tmp_path/out."""

    def run(sim: Simulator, *args: str) -> Result:
        monkeypatch.setenv("SPACECAST_X_BASE_URL", sim.https_url)
        monkeypatch.setenv("SPACECAST_X_API_BASE_URL", sim.https_url)
        monkeypatch.setenv("SPACECAST_X_CA_FILE", sim.ca_file)
        monkeypatch.setenv("SPACECAST_DOWNLOAD_WORK_DIR", str(tmp_path / "work"))
        monkeypatch.setenv("SPACECAST_DOWNLOAD_OUTPUT", str(tmp_path / "out" / "{id}.{ext}"))
        capsys.readouterr()
        code = main(["download", "--json", *FAST, *args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
    # The command pointed structlog at this test's captured stderr, which is closed next.
    structlog.reset_defaults()


def http(sim: Simulator) -> httpx.Client:
    verify = ssl.create_default_context(cafile=sim.ca_file)
    return httpx.Client(verify=verify, timeout=30, headers={"Referer": "https://x.com/"})


def final_list(sim: Simulator, space_id: str) -> m3u8.M3U8:
    master = next(s["master"] for s in sim.spaces() if s["id"] == space_id)
    with http(sim) as client:
        path = client.get(master).text.split("\n")[3]
        return m3u8.loads(client.get(sim.https_url + path).text)


def truth(sim: Simulator, space_id: str, first: int, last: int, rendition: int = 0) -> bytes:
    """The Space's ADTS frames for chunks [first, last): what a download must contain."""
    url = f"{sim.https_url}/_sim/spaces/{space_id}/truth.aac?from={first}&to={last}"
    url += f"&rendition={rendition}"
    with http(sim) as client:
        return client.get(url).content


def adts_of(path: Path) -> bytes:
    """The audio frames inside an m4a, back as ADTS (a stream copy: bit-exact)."""
    return subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-c",
            "copy",
            "-f",
            "adts",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout


def adts_frames(data: bytes) -> list[bytes]:
    """Split an ADTS stream by its frame lengths (written here, apart from the product's)."""
    frames, pos = [], 0
    while pos + 7 <= len(data):
        length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        frames.append(data[pos : pos + length])
        pos += length
    return frames


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:format_tags", "-of", "json",
         str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)["format"]  # type: ignore[no-any-return]
