"""The levers (POST /_sim/...) beyond loopback need the token (simulator/levers.py)."""

from __future__ import annotations

import math
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


def test_loopback_in_every_spelling() -> None:
    """A dual-stack socket (--bind ::) sees 127.0.0.1 as ::ffff:127.0.0.1: nginx's on_publish
    callback must still count as this machine's."""
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("::ffff:192.0.2.2") and not is_loopback("192.0.2.2")
    assert not is_loopback(None) and not is_loopback("not an address")


def test_listening_beyond_loopback_without_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="give --lever-token-file"):
        SimulatorSettings(bind="0.0.0.0")
    run = subprocess.run([sys.executable, "-m", "spacecast.cli", "simulate", "--bind", "0.0.0.0"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2 and "give --lever-token-file" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("path", "query", "says"), [
    ("/_sim/clock/advance", {"seconds": "nan"}, "seconds must be within 0..604800"),
    ("/_sim/clock/advance", {"seconds": "-5"}, "seconds must be within"),
    ("/_sim/clock/advance", {"seconds": "soon"}, "seconds must be a number"),
    ("/_sim/spaces/1AudioSpace01/disconnect", {"seconds": "inf"}, "seconds must be within 0..3600"),
])  # fmt: skip
def test_a_bad_lever_parameter_is_a_400_that_names_it(
    make_sim: MakeSim, path: str, query: dict[str, str], says: str
) -> None:
    """...and leaves the simulator whole: a NaN clock used to break every API call after it."""
    sim = make_sim(space=["kind=audio,id=1AudioSpace01,start=-60,duration=0"])
    answer = httpx.post(f"{sim.http_url}{path}", params=query)
    assert answer.status_code == 400 and says in answer.text, answer.text
    index = httpx.get(f"{sim.http_url}/_sim/").json()
    assert math.isfinite(index["now"]) and index["spaces"][0]["state"] == "Running"


def test_truth_serves_only_chunks_that_exist(make_sim: MakeSim) -> None:
    sim = make_sim(space=["kind=audio,id=1AudioSpace01,start=-60,duration=0"])
    truth = f"{sim.http_url}/_sim/spaces/1AudioSpace01/truth.aac"
    done = httpx.get(f"{sim.http_url}/_sim/").json()["spaces"][0]["chunks_so_far"]
    assert done >= 1 and httpx.get(truth).status_code == 200
    for query, says in [({"to": "3000"}, "to must be within"), ({"from": "x"}, "from must be a"),
                        ({"from": "1.5"}, "from must be a whole number"),
                        ({"from": str(done), "to": "0"}, "to must be within")]:  # fmt: skip
        answer = httpx.get(truth, params=query)
        assert answer.status_code == 400 and says in answer.text, (query, answer.text)


def test_the_ingests_key_check_is_no_oracle_beyond_loopback(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    """nginx asks from this machine; anyone else learns nothing about keys, token or not."""
    address = this_machines_address()
    if address is None:
        pytest.skip("this machine has no address beyond loopback")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    sim = make_sim(bind="0.0.0.0", lever_token_file=str(token_file), ingest_keys=["live_key"])
    right = {"Authorization": f"Bearer {TOKEN}"}
    url = f"http://{address}:{sim.http_port}/_sim/ingest/publish"
    for guess in ("live_key", "wrong_key"):
        answer = httpx.post(url, data={"name": guess}, headers=right)
        assert answer.status_code == 404, (guess, answer.status_code)
    local = f"http://127.0.0.1:{sim.http_port}/_sim/ingest/publish"
    assert httpx.post(local, data={"name": "live_key"}).status_code == 200
    assert httpx.post(local, data={"name": "wrong_key"}).status_code == 403
