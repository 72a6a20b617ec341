"""The fault proxy in front of the ingest (simulator/faultproxy.py): its schedule (pure) and
its lever's bounds."""

from __future__ import annotations

import httpx
import pytest

from simulator.faultproxy import Fault

from .conftest import MakeSim


def test_flap_is_up_then_down_then_up_and_nothing_after_the_window() -> None:
    f = Fault("flap", start=100.0, until=130.0, up=2.0, down=5.0)
    assert [f.on(100.0 + t) for t in (0, 1.9, 2.1, 6.9, 7.1, 9.5)] == [
        "pass", "pass", "refuse", "refuse", "pass", "refuse"
    ]  # fmt: skip
    assert f.on(130.0) == "pass" and Fault().on(0.0) == "pass"


def test_a_fault_holds_for_its_seconds_only() -> None:
    f = Fault("blackhole", start=0.0, until=8.0)
    assert (f.on(7.9), f.on(8.0)) == ("blackhole", "pass")


@pytest.mark.parametrize("query", [{"mode": "melt"}, {"seconds": "4000"}, {"up": "0"},
                                   {"down": "1000"}, {"kbps": "0"}, {"bytes": "1e7"}])  # fmt: skip
def test_bad_levers_name_the_problem(query: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Fault.parse(query)


def test_the_lever_is_refused_without_a_proxy(make_sim: MakeSim) -> None:
    sim = make_sim(ingest=True, ingest_port=0)
    answer = httpx.post(f"{sim.http_url}/_sim/ingest/fault", params={"mode": "cut"})
    assert answer.status_code == 409 and "--ingest-proxy" in answer.text
