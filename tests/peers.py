"""Public tools that spacecast is checked against, each in a virtualenv of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PEERS = {
    "twspace-dl": ["twspace-dl==2024.7.2.1"],
    "yt-dlp": ["yt-dlp"],
    # The controller's reference: a minimal kopf operator (bench/kopf_operator.py).
    "kopf": ["kopf==1.45.2", "kubernetes>=31"],
}
# uv is a dev dependency, so it sits beside the interpreter that `uv run` started: found on a
# fresh machine, whatever the PATH (scripts/install-deps.sh puts uv itself in no PATH folder).
UV = str(Path(sys.executable).parent / "uv")


def peer_env(name: str, root: Path) -> Path:
    """A virtualenv with one peer tool installed; returns its bin directory."""
    venv = root / name
    if not (venv / "bin" / "python").exists():
        env = os.environ | {"UV_PYTHON_DOWNLOADS": "never"}
        subprocess.run([UV, "venv", "-q", "--python", "python3", str(venv)], check=True, env=env)
        subprocess.run(
            [UV, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *PEERS[name]],
            check=True,
            env=env,
        )
    return venv / "bin"


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout)
