"""An unmodified public downloader works against the simulator as against X."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import m3u8
import pytest

from tests.peers import ffprobe_duration, peer_env

from .conftest import MakeSim, client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def twspace_dl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return peer_env("twspace-dl", tmp_path_factory.mktemp("peers")) / "twspace_dl"


def netscape_cookies(path: Path) -> Path:
    # twspace-dl insists on exactly these two, as 40 and 160 hex digits.
    rows = [
        (".x.com", "TRUE", "/", "TRUE", "0", "auth_token", "a" * 40),
        (".x.com", "TRUE", "/", "TRUE", "0", "ct0", "b" * 160),
    ]
    path.write_text("# Netscape HTTP Cookie File\n" + "".join("\t".join(r) + "\n" for r in rows))
    return path


def test_twspace_dl_downloads_from_the_master_url(
    make_sim: MakeSim, twspace_dl: Path, tmp_path: Path
) -> None:
    sim = make_sim(space=["start=-900,duration=300,title=Replay"], final_list_404_s=0)
    master = sim.spaces()[0]["master"]
    with client(sim) as http:
        chunk_list = m3u8.loads(http.get(http.get(master).text.split("\n")[3]).text)
    expected = sum(s.duration for s in chunk_list.segments)

    result = subprocess.run(
        [
            str(twspace_dl),
            "-c",
            str(netscape_cookies(tmp_path / "cookies.txt")),
            "-f",
            master,
            "-o",
            "replay",
        ],
        cwd=tmp_path,
        env=os.environ | {"REQUESTS_CA_BUNDLE": sim.ca_file},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ffprobe_duration(tmp_path / "replay.m4a") == pytest.approx(expected, abs=0.1)
