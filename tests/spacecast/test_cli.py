"""The `spacecast` entry point: help, one-line usage errors, and the simulate command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from simulator.settings import SimulatorSettings

SPACECAST = [sys.executable, "-m", "spacecast.cli"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SPACECAST, *args], capture_output=True, text=True, timeout=60, env=os.environ | env
    )


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0 and "simulate" in result.stdout


def test_simulate_help_documents_every_setting() -> None:
    text = run("simulate", "--help").stdout
    for name in SimulatorSettings.model_fields:
        assert "--" + name.replace("_", "-") in text
        assert "SPACECAST_SIM_" + name.upper() in text.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--speed", "fast"],
        ["simulate", "--no-such-flag"],
        ["simulate", "--space", "kind=video"],
        ["nonsense"],
        ["simulate", "--latency-ms", "-5"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "error" in result.stderr


def test_bad_environment_is_a_usage_error() -> None:
    result = run("simulate", SPACECAST_SIM_SPEED="fast")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_simulate_prints_the_spaces_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [*SPACECAST, "simulate", "--http-port", "0", "--https-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(16)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    text = "".join(lines)
    assert text.count("/i/spaces/") == 4 and text.count("master:") == 4
    assert "CA file:" in text and "SPACECAST_X_BASE_URL=https://localhost:" in text
    assert proc.returncode == 0


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("simulate", "--https-port", str(port), "--http-port", "0")
    assert result.returncode == 3 and "cannot listen" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_simulate_with_ingest_stops_nginx_on_sigterm() -> None:
    proc = subprocess.Popen(
        [*SPACECAST, "simulate", "--http-port", "0", "--https-port", "0", "--ingest",
         "--ingest-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    banner = "".join(proc.stdout.readline() for _ in range(5))
    assert "RTMP ingest: rtmp://127.0.0.1:" in banner
    port = banner.split("rtmp://127.0.0.1:")[1].split("/")[0]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    nginx = subprocess.run(["pgrep", "-f", "spacecast-ingest-"], capture_output=True, text=True)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(port))) != 0, nginx.stdout
