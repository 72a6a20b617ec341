"""Shared pytest setup."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from devcluster.cluster import ControlPlane

pytest_plugins = ["devcluster.pytest_plugin"]

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Children take Ctrl-C as a terminal's do. Started in the background by a shell (`&`,
    nohup), pytest inherits SIGINT ignored, and so would every child it starts: an ignored
    signal stays ignored across exec. A test that presses Ctrl-C on a download then saw it run
    on to the end (ffmpeg, which installs its own handler, quit under it)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def image_archive(name: str) -> Path:
    """Image `name` (session, controller, simulator) as `make images` last built and checked
    it, as an archive for the real node (a prerequisite of the node's pods, as the node itself
    is). Its name on the node: `image_name(name)`."""
    from devcluster.pytest_plugin import require_or_skip  # after pytest registered the plugin

    script = REPO / "scripts" / "build-images.sh"
    done = subprocess.run(
        ["bash", str(script), "--archive", name], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        require_or_skip(f"no {name} image for the real node: {lines[-1]}")
    return Path(done.stdout.strip())


def image_name(name: str) -> str:
    return f"localhost/spacecast/{name}:dev"  # scripts/build-images.sh's name for it


@pytest.fixture(scope="session")
def session_image_archive() -> Path:
    return image_archive("session")


@pytest.fixture
def session_image(control_plane: ControlPlane, session_image_archive: Path) -> str:
    """The session image's name, present on the test's real node (imported once per node)."""
    assert control_plane.node is not None, "mark the test real_node"
    control_plane.node.import_image(session_image_archive)
    return image_name("session")
