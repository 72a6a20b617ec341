"""Fixtures: a real simulator on free loopback ports, and clients that trust its CA."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simulator.auth import PUBLIC_BEARER
from simulator.server import Simulator, ThreadedSimulator
from simulator.settings import SimulatorSettings

MakeSim = Callable[..., Simulator]


@pytest.fixture
def make_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeSim]:
    """Start simulators with the given settings; all are stopped when the test ends."""
    running: list[ThreadedSimulator] = []

    def make(**overrides: Any) -> Simulator:
        settings = SimulatorSettings(
            http_port=0, https_port=0, state_dir=str(tmp_path_factory.mktemp("sim")), **overrides
        )
        threaded = ThreadedSimulator(settings)
        running.append(threaded)
        return threaded.__enter__()

    yield make
    for threaded in running:
        threaded.__exit__(None, None, None)


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim()


def client(simulator: Simulator, **kwargs: Any) -> httpx.Client:
    verify = ssl.create_default_context(cafile=simulator.ca_file)
    return httpx.Client(base_url=simulator.https_url, verify=verify, timeout=30, **kwargs)


def guest_headers(http: httpx.Client) -> dict[str, str]:
    bearer = {"Authorization": f"Bearer {PUBLIC_BEARER}"}
    token = http.post("/1.1/guest/activate.json", headers=bearer).json()["guest_token"]
    return bearer | {"x-guest-token": token}


def space_of(simulator: Simulator, kind: str, state: str) -> dict[str, Any]:
    return next(s for s in simulator.spaces() if s["kind"] == kind and s["state"] == state)
