"""The levers (POST /_sim/...) beyond loopback need the token (simulator/levers.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulator.levers import is_loopback
from simulator.settings import SimulatorSettings

from .conftest import MakeSim

TOKEN = "lever-token-0123456789abcdef"


def this_machines_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: it only picks a route
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if is_loopback(address) else address


def test_beyond_loopback_the_levers_need_the_token(make_sim: MakeSim, tmp_path: Path) -> None:
    address = this_machines_address()
    if address is None:
        pytest.skip("this machine has no address beyond loopback")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    sim = make_sim(bind="0.0.0.0", lever_token_file=str(token_file))
    lever = f"http://{address}:{sim.http_port}/_sim/clock/advance"
    assert httpx.post(lever, params={"seconds": 1}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    assert httpx.post(lever, params={"seconds": 1}, headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(lever, params={"seconds": 1}, headers=right).status_code == 200
    assert httpx.get(f"http://{address}:{sim.http_port}/_sim/").status_code == 200  # reads
    local = f"http://127.0.0.1:{sim.http_port}/_sim/clock/advance"
    assert httpx.post(local, params={"seconds": 1}).status_code == 200  # this machine


def test_listening_beyond_loopback_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="give --lever-token-file"):
        SimulatorSettings(bind="0.0.0.0")
    run = subprocess.run([sys.executable, "-m", "spacecast.cli", "simulate", "--bind", "0.0.0.0"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and "give --lever-token-file" in run.stderr
    assert "Traceback" not in run.stderr
