"""Bad input to `spacecast session`: one line, its own exit code, no traceback, no secret, and
on every exit the summary in the termination log, parseable, with that code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from spacecast.contract import Summary
from spacecast.session.inputs import load_destinations


def session(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spacecast.cli", "session", *args],
                          capture_output=True, text=True, timeout=60, env=env)  # fmt: skip


def summary_of(path: Path) -> Summary:
    summary = Summary.parse(path.read_text())
    assert summary is not None, path.read_text()
    return summary


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"exit {result.returncode}" in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        ((), 2, "give --space"),
        (("--space", "1AAAAAAAAAAAA", "--no-such-flag"), 2, "unrecognized arguments"),
        (("--space", "1AAAAAAAAAAAA", "--width", "wide"), 2, "invalid --width"),
        (("--space", "nope"), 10, "not a Space URL or id"),
        (("--space", "1AAAAAAAAAAAA"), 32, "give --destinations-file"),
        (("--space", "1AAAAAAAAAAAA", "--destinations-file", "/nonexistent"), 32, "No such file"),
        (("--space", "1AAAAAAAAAAAA", "--display", "99"), 2, "invalid --display"),
        (("--space", "[x\x1b[31m"), 10, "not a Space URL or id"),
        (("--space", "1AAAAAAAAAAAA", "--bogus\nsecond line"), 2, "unrecognized arguments"),
    ],
)
def test_bad_input(args: tuple[str, ...], code: int, says: str, tmp_path: Path) -> None:
    log = tmp_path / "summary.json"
    result = session(*args, "--termination-log", str(log))
    assert result.returncode == code
    assert says in one_error_line(result)
    summary = summary_of(log)
    assert (summary.exit_code, summary.reason) == (code, "failed") and says in summary.message
    assert json.loads(log.read_text()).keys() == set(Summary.__dataclass_fields__)


def test_bad_environment(tmp_path: Path) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmp://127.0.0.1:1/app/key\n")
    common = ("--space", "https://x.com/i/spaces/1AAAAAAAAAAAA", "--destinations-file",
              str(destinations), "--termination-log", str(tmp_path / "summary.json"))  # fmt: skip
    env = os.environ | {"SPACECAST_LOG_LEVEL": "loud"}
    result = session(*common, env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert "SPACECAST_LOG_LEVEL" in one_error_line(result)
    assert summary_of(tmp_path / "summary.json").space_id == "1AAAAAAAAAAAA"
    result = session(*common, "--metrics-port", "0", "--x-ca-file", str(tmp_path / "missing.pem"))
    assert result.returncode == 24 and "x-ca-file" in one_error_line(result)


def test_a_destinations_file_that_is_not_text_is_named_not_quoted(tmp_path: Path) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_bytes(b"rtmp://ingest.example/app/SECRETKEY9\n\xff\xfe\n")
    log = tmp_path / "summary.json"
    result = session("--space", "1AAAAAAAAAAAA", "--destinations-file", str(destinations),
                     "--termination-log", str(log))  # fmt: skip
    assert result.returncode == 32 and "not UTF-8" in one_error_line(result)
    assert "SECRETKEY9" not in result.stderr + result.stdout + log.read_text()


def test_a_destinations_directory_is_read_in_index_order(tmp_path: Path) -> None:
    """A SpaceCast's pod gets one file per destination: destinations/0, /1, ... /10."""
    folder = tmp_path / "destinations"
    folder.mkdir()
    for i in (10, 2, 0, 1):
        (folder / str(i)).write_text(f"rtmp://ingest{i}.example/app/key{i}\n")
    (folder / "..data").mkdir()  # what a projected volume also holds
    urls = load_destinations(str(folder))
    assert [u.host for u in urls] == [f"ingest{i}.example" for i in (0, 1, 2, 10)]


def test_termination_log_from_the_environment(tmp_path: Path) -> None:
    """In a pod the path comes from the environment; a usage mistake still finds it."""
    log = tmp_path / "summary.json"
    env = os.environ | {"SPACECAST_SESSION_TERMINATION_LOG": str(log)}
    result = session("--space", "1AAAAAAAAAAAA", "--bogus", env=env)
    assert result.returncode == 2
    assert summary_of(log).space_id == "1AAAAAAAAAAAA"


def test_busy_metrics_port(tmp_path: Path) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmp://127.0.0.1:1/app/key\n")
    log = tmp_path / "summary.json"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = session("--space", "1AAAAAAAAAAAA", "--destinations-file", str(destinations),
                         "--metrics-bind", "127.0.0.1", "--metrics-port", str(port),
                         "--termination-log", str(log))  # fmt: skip
    assert result.returncode == 3
    assert f"127.0.0.1:{port}" in one_error_line(result)
    assert summary_of(log).exit_class == "transient"


def test_a_bad_destination_line_names_the_line_not_the_key(tmp_path: Path) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmp://ok.example/app/key1\nhttp://wrong.example/app/SECRETKEY2\n")
    log = tmp_path / "summary.json"
    result = session("--space", "1AAAAAAAAAAAA", "--destinations-file", str(destinations),
                     "--termination-log", str(log))  # fmt: skip
    assert result.returncode == 32 and "line 2" in result.stderr
    assert "SECRETKEY2" not in result.stderr + result.stdout + log.read_text()
    assert summary_of(log).exit_class == "permanent"


def test_unreadable_cookies(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    log = tmp_path / "summary.json"
    result = session("--space", "1AAAAAAAAAAAA", "--cookies-file", str(cookies),
                     "--termination-log", str(log))  # fmt: skip
    assert result.returncode == 21 and "missing auth_token and ct0" in one_error_line(result)
    assert summary_of(log).exit_code == 21


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "no such file"), ("not a certificate", "no PEM certificate"), ("/dev/zero", "regular")],
)
def test_a_bad_rtmps_ca_file_is_one_line(tmp_path: Path, content: str | None, says: str) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmps://ingest.example/app/KEY\n")
    ca = tmp_path / "ca.pem"
    if content == "/dev/zero":
        ca = Path(content)  # read forever, unless it is refused for not being a file
    elif content is not None:
        ca.write_text(content)
    log = tmp_path / "s.json"
    result = session("--space", "1AAAAAAAAAAAA", "--destinations-file", str(destinations),
                     "--rtmps-ca-file", str(ca), "--termination-log", str(log))  # fmt: skip
    assert result.returncode == 32
    assert says in one_error_line(result)


def test_cookie_values_with_control_characters_are_refused_and_never_shown(
    tmp_path: Path,
) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmp://ingest.example/app/KEY\n")
    cookies = tmp_path / "cookies.json"
    cookies.write_text(json.dumps({"auth_token": "T0KEN\r\nX-Evil: 1", "ct0": "C5RF"}))
    log = tmp_path / "s.json"
    result = session("--space", "1AAAAAAAAAAAA", "--destinations-file", str(destinations),
                     "--cookies-file", str(cookies), "--termination-log", str(log))  # fmt: skip
    assert result.returncode == 21
    assert "auth_token is not a cookie value" in one_error_line(result)
    for output in (result.stdout, result.stderr, log.read_text()):
        assert "T0KEN" not in output and "C5RF" not in output
