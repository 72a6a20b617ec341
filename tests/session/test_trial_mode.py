"""The chart's trial mode (`simulator.enabled`): sessions reach the in-cluster simulator at its
Service's address over plain HTTP, with no CA to trust, and publish to its ingest there. Here the
simulator listens beyond loopback with its lever token, as the chart starts it, and a session
reaches it at this machine's own address."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.simulator.test_levers import TOKEN, this_machines_address

from .conftest import MakeSim, StartCast, cast_sim, wait_for

pytestmark = pytest.mark.slow


def test_a_session_casts_a_plain_http_simulator_beyond_loopback(
    make_sim: MakeSim, cast: StartCast, tmp_path: Path
) -> None:
    address = this_machines_address()
    if address is None:
        pytest.skip("this machine has no address beyond loopback")
    (tmp_path / "token").write_text(TOKEN)
    sim = cast_sim(make_sim, "kind=audio,id=1HelmTestCast,start=-30,duration=0",
                   bind="0.0.0.0", lever_token_file=str(tmp_path / "token"))  # fmt: skip
    run = cast(sim, "1HelmTestCast", display=169, reach=address)
    wait_for("readiness", run.ready, 60)
    wait_for("speech in the sink", lambda: run.metric("spacecast_audio_level_dbfs") > -30, 30)
    assert run.metric("spacecast_rtmp_destination_up{destination=0}") == 1
    assert sim.ingest is not None and sim.ingest.host == "0.0.0.0"
