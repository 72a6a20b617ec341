"""The README's main command: `spacecast demo` casts a simulated Space and leaves a recording."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.procfs import proc_text, tree_pids
from tests.wait import wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["audio", "camera"])
def test_demo_casts_and_records(tmp_path: Path, kind: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spacecast.cli", "demo", "--kind", kind, "--seconds", "25",
         "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ready yes" in result.stdout
    assert '"reason":"space_ended"' in result.stdout
    assert ("rescues 1" in result.stdout) == (kind == "camera")
    assert "recording: " in result.stdout and "h264 1280x720, aac" in result.stdout
    assert list((tmp_path / "ingest").glob("*.flv"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_demo_stopped_leaves_nothing_behind(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM stops the demo as Ctrl-C does; SIGKILL gives it no say, and still its session
    (and the session's children), the ingest's nginx and the browser profile go with it."""
    out = tmp_path / "out"
    with (tmp_path / "demo.log").open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "spacecast.cli", "demo", "--seconds", "120", "--output",
             str(out)], stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for("the demo on air", lambda: "ready yes" in (tmp_path / "demo.log").read_text(), 120)
        tree = [p for p in tree_pids(demo.pid) if p != demo.pid]
        names = {proc_text(p, "comm").strip() for p in tree}
        assert {"nginx", "Xvfb", "ffmpeg", "chromium"} <= names, names
        demo.send_signal(sig)
        demo.wait(60)
    finally:
        if demo.poll() is None:
            demo.kill()

    def left() -> list[str]:
        """What still runs (a zombie waiting for its reaping is gone for our purpose)."""
        states = {p: proc_text(p, "stat").rpartition(") ")[2][:1] for p in tree}
        return [
            proc_text(p, "comm").strip() for p, state in states.items() if state not in ("", "Z")
        ]

    wait_for("every process it started gone", lambda: not left(), 30)
    wait_for(
        "the browser profile gone", lambda: not (out / "runtime/chromium-profile").exists(), 30
    )
