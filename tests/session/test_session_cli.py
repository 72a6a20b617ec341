"""Bad input to `spacecast session`: one line, its own exit code, no traceback, no secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def session(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spacecast.cli", "session", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        ((), 2, "give --space"),
        (("--space", "nope"), 10, "not a Space URL or id"),
        (("--space", "1AAAAAAAAAAAA"), 32, "give --destinations-file"),
        (("--space", "1AAAAAAAAAAAA", "--destinations-file", "/nonexistent"), 32, "No such file"),
        (("--space", "1AAAAAAAAAAAA", "--display", "99"), 2, "invalid --display"),
    ],
)
def test_bad_input(args: tuple[str, ...], code: int, says: str) -> None:
    result = session(*args)
    assert result.returncode == code
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.stderr


def test_a_bad_destination_line_names_the_line_not_the_key(tmp_path: Path) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmp://ok.example/app/key1\nhttp://wrong.example/app/SECRETKEY2\n")
    result = session("--space", "1AAAAAAAAAAAA", "--destinations-file", str(destinations))
    assert result.returncode == 32 and "line 2" in result.stderr
    assert "SECRETKEY2" not in result.stderr + result.stdout


def test_unreadable_cookies(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    result = session("--space", "1AAAAAAAAAAAA", "--cookies-file", str(cookies))
    assert result.returncode == 21 and "missing auth_token and ct0" in result.stderr
