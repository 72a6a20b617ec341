"""Killed half-way, re-run: only the missing chunks are fetched, and the output is whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.server import Simulator
from spacecast.errors import ExitCode
from tests.simulator.conftest import MakeSim
from tests.wait import wait_for

from .conftest import Download, adts_of, final_list, truth

pytestmark = pytest.mark.slow
SPACE = "id=1EndedReplay1,start=-900,duration=300"


def stored(tmp_path: Path, space_id: str = "1EndedReplay1") -> int:
    """Chunks the work directory has stored so far."""
    manifest = tmp_path / "work" / space_id / "manifest.jsonl"
    return len(manifest.read_text().splitlines()) if manifest.exists() else 0


def start_download(
    sim: Simulator, tmp_path: Path, space_id: str = "1EndedReplay1", **popen: Any
) -> subprocess.Popen[bytes]:
    """`spacecast download` of the Space in a process of its own, two chunks at a time, into
    tmp_path/work and tmp_path/out."""
    env = os.environ | {
        "SPACECAST_X_BASE_URL": sim.https_url,
        "SPACECAST_X_API_BASE_URL": sim.https_url,
        "SPACECAST_X_CA_FILE": sim.ca_file,
        "SPACECAST_DOWNLOAD_WORK_DIR": str(tmp_path / "work"),
        "SPACECAST_DOWNLOAD_OUTPUT": str(tmp_path / "out" / "{id}.{ext}"),
        "SPACECAST_LOG_LEVEL": "warning",
    }
    cmd = [sys.executable, "-m", "spacecast.cli", "download", space_id, "--concurrency", "2"]
    return subprocess.Popen(cmd, env=env, **popen)


def test_resume_after_kill(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, throttle_kbps=150)
    work, out = tmp_path / "work", tmp_path / "out"
    proc = start_download(sim, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("20 chunks stored", lambda: stored(tmp_path) >= 20, every=0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Nothing at the target: at most the hidden file the output was being written to.
    left = [p.name for p in out.iterdir()] if out.exists() else []
    assert all(name.startswith(".1EndedReplay1.m4a.") and name.endswith(".part") for name in left)
    done = stored(tmp_path)

    sim.sim.settings.throttle_kbps = 0
    result = download(sim, "1EndedReplay1")
    assert result.code == 0, result.err
    count = len(final_list(sim, "1EndedReplay1").segments)
    summary = result.summary
    assert summary["chunks_reused"] >= done - 1  # a line may be cut short by the kill
    assert summary["chunks_reused"] + summary["chunks_fetched"] == count
    assert adts_of(Path(summary["output"])) == truth(sim, "1EndedReplay1", 0, count)
    assert not (work / "1EndedReplay1").exists()  # cleaned up after success
    assert [p.name for p in out.iterdir()] == ["1EndedReplay1.m4a"]  # the killed run's part too


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupt_exits_130_and_keeps_the_chunks(
    make_sim: MakeSim, tmp_path: Path, how: str
) -> None:
    """Ctrl-C: SIGINT to the whole process group, as a terminal sends it (ffmpeg gets it too).
    SIGTERM: to the process alone, as a service manager or `kill` sends it."""
    sim = make_sim(space=[SPACE], final_list_404_s=0, throttle_kbps=150)
    out = tmp_path / "out"
    proc = start_download(
        sim, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for("10 chunks stored", lambda: stored(tmp_path) >= 10, every=0.05)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"remux" not in err
    assert (b"terminated (SIGTERM)" in err) == (how == "sigterm"), err[-300:]
    assert not out.exists() or not list(out.iterdir())  # the part file went with the interrupt
    assert stored(tmp_path) >= 10  # kept for the next run


def test_a_second_download_of_the_same_space_is_refused_while_the_first_runs(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, throttle_kbps=150)
    first = start_download(sim, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("5 chunks stored", lambda: stored(tmp_path) >= 5, every=0.05)
        second = download(sim, "1EndedReplay1")
        assert second.code == ExitCode.WORK_DIR_BUSY
        assert f"(pid {first.pid})" in second.err.strip().splitlines()[-1]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The holder died by kill -9: the kernel let go of its lock, and a rerun finishes the job.
    sim.sim.settings.throttle_kbps = 0
    result = download(sim, "1EndedReplay1")
    assert result.code == 0, result.err
    count = len(final_list(sim, "1EndedReplay1").segments)
    assert adts_of(Path(result.summary["output"])) == truth(sim, "1EndedReplay1", 0, count)


def test_a_broken_manifest_heals_on_rerun(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    """What two unlocked runs once left behind: repeated lines, and lines pointing at bytes
    that are not the chunk's frames. A rerun drops them, fetches those chunks again, and
    writes the manifest anew."""
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    assert download(sim, "1EndedReplay1", "--keep-work", "--format", "aac").code == 0
    manifest = tmp_path / "work" / "1EndedReplay1" / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    entries[3]["offset"] += 7  # into the middle of a frame
    entries[5]["bytes"] -= 1  # one byte short of its last frame
    entries[8]["frames"] += 1  # claims a frame it does not have
    broken = [json.dumps(e) for e in entries] + lines[10:12] + ["{cut short"]
    manifest.write_text("\n".join(broken) + "\n")
    (tmp_path / "out" / "1EndedReplay1.aac").unlink()

    result = download(sim, "1EndedReplay1", "--keep-work", "--format", "aac")
    assert result.code == 0, result.err
    count = len(final_list(sim, "1EndedReplay1").segments)
    assert Path(result.summary["output"]).read_bytes() == truth(sim, "1EndedReplay1", 0, count)
    assert result.summary["chunks_fetched"] == 3  # the three bad entries, nothing else
    healed = manifest.read_text().splitlines()
    assert len(healed) == count and len({json.loads(line)["seq"] for line in healed}) == count


def test_a_camera_space_resumes_after_kill(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    """The pictures are kept beside the sound, checked on rerun, and joined as if whole."""
    space = "kind=camera,id=1CameraResume,start=-900,duration=90,host=cam_host"
    sim = make_sim(space=[space], final_list_404_s=0, throttle_kbps=2000)
    proc = start_download(sim, tmp_path, "1CameraResume", stdout=subprocess.DEVNULL)
    try:
        wait_for("8 segments stored", lambda: stored(tmp_path, "1CameraResume") >= 8, every=0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = stored(tmp_path, "1CameraResume")
    sim.sim.settings.throttle_kbps = 0
    result = download(sim, "1CameraResume")
    assert result.code == 0, result.err
    summary = result.summary
    count = summary["chunks"]
    assert count == 29 and summary["chunks_reused"] >= done - 1
    assert summary["chunks_reused"] + summary["chunks_fetched"] == count
    out = Path(summary["output"])
    assert adts_of(out) == truth(sim, "1CameraResume", 0, count)
    assert summary["video_frames"] == 90 * count
