"""Ended Spaces with a replay: exact audio, tags, fault knobs, gaps, formats, cookies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spacecast.errors import ExitCode
from tests.simulator.conftest import MakeSim

from .conftest import Download, adts_of, final_list, probe, truth

pytestmark = pytest.mark.slow
SPACE = "id=1EndedReplay1,start=-900,duration=120,title=Old Talk,host=old_host"


def expected_seconds(sim: Any, space_id: str = "1EndedReplay1") -> tuple[float, int]:
    listing = final_list(sim, space_id)
    return sum(s.duration for s in listing.segments), len(listing.segments)


def test_ended_with_replay_is_exact_and_tagged(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    result = download(sim, "https://x.com/i/spaces/1EndedReplay1")
    assert result.code == 0, result.err
    out = Path(result.summary["output"])
    seconds, count = expected_seconds(sim)
    fmt = probe(out)
    assert float(fmt["duration"]) == pytest.approx(seconds, abs=0.05)
    assert adts_of(out) == truth(sim, "1EndedReplay1", 0, count)
    tags = fmt["tags"]
    assert tags["title"] == "Old Talk" and tags["artist"] == "Old Host"
    assert tags["date"].startswith("20") and tags["comment"].endswith("/1EndedReplay1")
    assert result.summary["chunks"] == count and result.summary["gaps"] == []
    assert not list(out.parent.glob(".*.part"))


@pytest.mark.parametrize(
    "knob",
    [
        {"latency_ms": 30},
        {"throttle_kbps": 400},
        {"chunk_404_rate": 0.3},
        {"stray_bytes_rate": 0.5},
        {"truncate_rate": 0.3},
        {"truncate_rate": 0.3, "omit_content_length": True},
        {"burst_429_every": 3, "burst_429_length": 1, "burst_429_reset_s": 0.2},
        {"guest_token_ttl_s": 0.3, "latency_ms": 250},
        {"require_referer": True},
        {"final_list_404_s": 2, "speed": 1},
    ],
    ids=lambda knob: ",".join(f"{k}={v}" for k, v in knob.items()),
)
def test_fault_knobs_do_not_change_the_audio(
    make_sim: MakeSim, download: Download, knob: dict[str, Any]
) -> None:
    sim = make_sim(space=[SPACE], **({"final_list_404_s": 0} | knob))
    result = download(sim, "1EndedReplay1")
    assert result.code == 0, result.err
    seconds, count = expected_seconds(sim)
    out = Path(result.summary["output"])
    assert float(probe(out)["duration"]) == pytest.approx(seconds, abs=0.05)
    assert adts_of(out) == truth(sim, "1EndedReplay1", 0, count)


def test_final_list_404_for_longer_than_asked(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    sim = make_sim(space=[SPACE.replace("-900", "-125")], final_list_404_s=600)
    result = download(sim, "1EndedReplay1", "--final-list-timeout-s", "1")
    assert result.code == ExitCode.MEDIA_UNAVAILABLE
    assert "final chunk list" in result.err.strip().splitlines()[-1]
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("policy", ["fail", "silence", "skip"])
def test_missing_chunks_policy(make_sim: MakeSim, download: Download, policy: str) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, missing_chunks=[5, 6, 20])
    result = download(sim, "1EndedReplay1", "--gaps", policy)
    full = make_sim(space=[SPACE], final_list_404_s=0)
    seconds, count = expected_seconds(full)
    holes = [5, 6, 20]
    hole_s = sum(s.duration for i, s in enumerate(final_list(full, "1EndedReplay1").segments)
                 if i in holes)  # fmt: skip
    if policy == "fail":
        assert result.code == ExitCode.MISSING_CHUNKS
        assert "3 chunks missing (5-6, 20-20)" in result.err
        failed = result.summary  # --json: the failure's line names the gaps and the chunks kept
        assert [(g["from_seq"], g["to_seq"]) for g in failed["gaps"]] == [(5, 6), (20, 20)]
        assert failed["exit_code"] == ExitCode.MISSING_CHUNKS
        assert Path(failed["work_dir"], "manifest.jsonl").stat().st_size > 0
        return
    assert result.code == 0, result.err
    out = Path(result.summary["output"])
    gaps = result.summary["gaps"]
    assert [(g["from_seq"], g["to_seq"]) for g in gaps] == [(5, 6), (20, 20)]
    assert sum(g["seconds"] for g in gaps) == pytest.approx(hole_s, abs=0.002)  # from the PTS
    duration = float(probe(out)["duration"])
    if policy == "silence":
        assert duration == pytest.approx(seconds, abs=0.05)
    else:
        assert duration == pytest.approx(seconds - hole_s, abs=0.05)
        kept = [(a, b) for a, b in [(0, 5), (7, 20), (21, count)]]
        assert adts_of(out) == b"".join(truth(sim, "1EndedReplay1", a, b) for a, b in kept)


def test_raw_adts_output(make_sim: MakeSim, download: Download, tmp_path: Path) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    target = tmp_path / "space.aac"
    result = download(sim, "1EndedReplay1", "--format", "aac", "-o", str(target))
    assert result.code == 0, result.err
    _, count = expected_seconds(sim)
    assert target.read_bytes() == truth(sim, "1EndedReplay1", 0, count)


def test_cookies_and_secrets_stay_out_of_logs(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPACECAST_LOG_LEVEL", "debug")
    auth, ct0 = "c0ffee" * 6 + "abcd", "d" * 160
    sim = make_sim(space=[SPACE], final_list_404_s=0, guest_enabled=False,
                   valid_auth_tokens=[auth])  # fmt: skip
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        f"# Netscape HTTP Cookie File\n.x.com\tTRUE\t/\tTRUE\t0\tauth_token\t{auth}\n"
        f".x.com\tTRUE\t/\tTRUE\t0\tct0\t{ct0}\n"
    )
    result = download(sim, "1EndedReplay1", "--cookies", str(cookies))
    assert result.code == 0, result.err
    assert auth not in result.err + result.out and ct0 not in result.err + result.out
    assert download(sim, "1EndedReplay1").code == ExitCode.AUTH_REFUSED  # guest access is off
