"""The README's main command: `spacecast demo` casts a simulated Space and leaves a recording."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
