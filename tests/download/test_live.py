"""Running Spaces, recorded from their start: the seam, host disconnects, the final list's
404 and lag after the end, and --wait for a scheduled Space. Audio is compared byte for byte
with the simulator's ground truth, so a duplicate or a hole at any seam fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.server import Simulator
from spacecast.errors import ExitCode
from tests.simulator.conftest import MakeSim

from .conftest import Download, adts_of, final_list, probe, truth

pytestmark = pytest.mark.slow


def check_exact(sim: Simulator, space_id: str, out: Path) -> int:
    listing = final_list(sim, space_id)
    count = len(listing.segments)
    assert float(probe(out)["duration"]) == pytest.approx(
        sum(s.duration for s in listing.segments), abs=0.05
    )
    assert adts_of(out) == truth(sim, space_id, 0, count)
    return count


def test_running_space_from_its_start(make_sim: MakeSim, download: Download) -> None:
    # Joined 30 s in: 10 chunks come from the snapshot, the rest from the live playlist; after
    # the end the final list is 404 for a while, then lags 3 chunks behind the live part.
    sim = make_sim(
        space=["id=1RunningNow12,start=-30,duration=60,title=Live"],
        speed=5,
        snapshot_every_s=15,
        final_list_404_s=10,
        final_list_lag_s=5,
        final_list_lag_chunks=3,
    )
    result = download(sim, "1RunningNow12")
    assert result.code == 0, result.err
    assert result.summary["live"] is True and result.summary["gaps"] == []
    count = check_exact(sim, "1RunningNow12", Path(result.summary["output"]))
    assert result.summary["chunks"] == count


def test_host_disconnect_is_ridden_out(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(
        space=["id=1HostDrops123,start=-5,duration=45"],
        speed=5,
        host_disconnect=["15:12"],
        final_list_404_s=5,
    )
    result = download(sim, "1HostDrops123")
    assert result.code == 0, result.err
    assert result.summary["host_disconnects"] == 1
    check_exact(sim, "1HostDrops123", Path(result.summary["output"]))


def test_scheduled_space_needs_wait(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=["id=1Scheduled123,start=3600"])
    result = download(sim, "1Scheduled123")
    assert result.code == ExitCode.NOT_STARTED
    assert "--wait" in result.err.strip().splitlines()[-1]


def test_wait_records_a_scheduled_space(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=["id=1Scheduled123,start=3,duration=20"], speed=5, final_list_404_s=0)
    result = download(sim, "1Scheduled123", "--wait")
    assert result.code == 0, result.err
    check_exact(sim, "1Scheduled123", Path(result.summary["output"]))
