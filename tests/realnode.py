"""Helpers for casts on the real node (devcluster/node.py): the simulator and its ingest where a
pod reaches them, and what a pod needs to reach X there."""

from __future__ import annotations

from pathlib import Path

from simulator.server import Simulator
from tests.session.conftest import cast_sim, packet_times
from tests.simulator.conftest import MakeSim
from tests.simulator.test_levers import TOKEN


def reachable_sim(make_sim: MakeSim, tmp_path: Path, *spaces: str, **settings: object) -> Simulator:
    """The simulator and its ingest where a pod reaches them, the node's bridge address
    (listening on every address of this machine, its levers guarded by a token)."""
    (tmp_path / "token").write_text(TOKEN)
    token = str(tmp_path / "token")
    return cast_sim(make_sim, *spaces, bind="0.0.0.0", lever_token_file=token, **settings)


def ingest_url(sim: Simulator, gateway: str, key: str) -> str:
    assert sim.ingest is not None
    return sim.ingest.url(key).replace("127.0.0.1", gateway, 1)


def x_env(sim: Simulator, gateway: str) -> dict[str, str]:
    """The sessions' way to X (the simulator) from a pod: `session_env` of the controller."""
    x = f"http://{gateway}:{sim.http_port}"
    return {"SPACECAST_X_BASE_URL": x, "SPACECAST_X_API_BASE_URL": x}


def ingest_bytes(sim: Simulator, key: str = "") -> int:
    """What the ingest has recorded so far (of stream `key`'s recordings, when given)."""
    assert sim.ingest is not None
    return sum(r.stat().st_size for r in recordings(sim, key))


def recordings(sim: Simulator, key: str = "") -> list[Path]:
    """The ingest's recordings, oldest first; nginx names each after its stream."""
    assert sim.ingest is not None
    return [r for r in sim.ingest.recordings() if r.name.startswith(key)]


def media_seconds(sim: Simulator, key: str) -> float:
    """How far the newest recording of stream `key` reaches, in media time (its last audio
    packet): a cast's progress whatever its bitrate."""
    found = recordings(sim, key)
    return max(packet_times(found[-1], "a"), default=0.0) if found else 0.0
