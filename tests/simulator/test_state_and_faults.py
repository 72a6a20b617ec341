"""The state machine as a client sees it, and every fault knob."""

from __future__ import annotations

import time

import httpx
import m3u8
import pytest

from simulator.chunks import STRAY_PREFIX
from simulator.server import Simulator

from .conftest import MakeSim, client, guest_headers

ONE = "kind=audio,id=1OdJrXyZaBcDe,start=10,duration=120"


def status_code(http: httpx.Client, sim: Simulator) -> int:
    key = sim.spaces()[0]["media_key"]
    return http.get(f"/1.1/live_video_stream/status/{key}", headers=guest_headers(http)).status_code


def chunk_list(http: httpx.Client, master_url: str) -> httpx.Response:
    return http.get(http.get(master_url).text.split("\n")[3])


def test_not_started_running_ended(make_sim: MakeSim) -> None:
    sim = make_sim(space=[ONE], final_list_404_s=30, final_list_lag_s=20, final_list_lag_chunks=3)
    space = sim.spaces()[0]
    with client(sim) as http:
        assert space["state"] == "NotStarted"
        assert http.get(space["dynamic"]).status_code == 404
        assert http.get(space["master"]).status_code == 404
        assert status_code(http, sim) == 404

        sim.world.clock.advance(40)  # 30 s into the Space
        assert sim.spaces()[0]["state"] == "Running"
        live = m3u8.loads(http.get(space["dynamic"]).text)
        so_far = sim.spaces()[0]["chunks_so_far"]
        assert live.media_sequence == so_far - 4 and f"_{so_far - 1}_a.aac" in live.segments[-1].uri
        snapshot = m3u8.loads(chunk_list(http, space["master"]).text)
        assert len(snapshot.segments) == sim.spaces()[0]["chunks_so_far"]

        sim.world.clock.advance(100)  # 10 s after the end
        assert sim.spaces()[0]["state"] == "Ended"
        assert http.get(space["dynamic"]).status_code == 404
        assert chunk_list(http, space["master"]).status_code == 404  # not ready yet
        sim.world.clock.advance(25)
        lagging = m3u8.loads(chunk_list(http, space["master"]).text)
        sim.world.clock.advance(20)
        final = m3u8.loads(chunk_list(http, space["master"]).text)
    assert len(final.segments) == sim.spaces()[0]["chunks_so_far"] == len(lagging.segments) + 3
    assert sum(s.duration for s in final.segments) == pytest.approx(120, abs=3.2)


def test_ended_without_replay_has_no_stream(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-100,duration=50,replay=no"])
    with client(sim) as http:
        assert status_code(http, sim) == 404


def test_live_snapshots_are_reissued(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-10,duration=0"], snapshot_every_s=60)
    master = sim.spaces()[0]["master"]
    with client(sim) as http:
        first = http.get(master).text.split("\n")[3]
        sim.world.clock.advance(60)
        second = http.get(master).text.split("\n")[3]
        assert first != second
        old, new = m3u8.loads(http.get(first).text), m3u8.loads(http.get(second).text)
    assert len(old.segments) < len(new.segments)  # the old snapshot is frozen


def test_host_disconnect(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-20,duration=0"], host_disconnect=["30:15"])
    space = sim.spaces()[0]
    with client(sim) as http:
        assert http.get(space["dynamic"]).status_code == 200
        sim.world.clock.advance(12)
        assert http.get(space["dynamic"]).status_code == 404
        assert sim.spaces()[0]["state"] == "Running"
        assert status_code(http, sim) == 200
        sim.world.clock.advance(15)
        assert http.get(space["dynamic"]).status_code == 200


def _first_chunk_url(http: httpx.Client, sim: Simulator) -> str:
    space = sim.spaces()[0]
    uri = m3u8.loads(chunk_list(http, space["master"]).text).segments[0].uri
    return f"{space['master'].rsplit('/', 1)[0]}/{uri}"


def test_chunk_404s(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-60"], chunk_404_rate=0.5, seed=3)
    with client(sim) as http:
        url = _first_chunk_url(http, sim)
        codes = {http.get(url).status_code for _ in range(30)}
    assert codes == {200, 404}


def test_stray_bytes(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-60"], stray_bytes_rate=1)
    with client(sim) as http:
        body = http.get(_first_chunk_url(http, sim)).content
    assert body.startswith(STRAY_PREFIX + b"ID3\x04")


def test_truncated_bodies(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-60"], truncate_rate=1)
    with client(sim) as http:
        url = _first_chunk_url(http, sim)
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(url)


def test_missing_content_length(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-60"], omit_content_length=True)
    with client(sim) as http:
        response = http.get(_first_chunk_url(http, sim))
    assert "content-length" not in response.headers and len(response.content) > 30_000


def test_missing_chunk_in_the_final_list(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-200,duration=100"], missing_chunks=[5], final_list_404_s=0)
    with client(sim) as http:
        seqs = [
            int(s.uri.split("_")[2])
            for s in m3u8.loads(chunk_list(http, sim.spaces()[0]["master"]).text).segments
        ]
    assert 5 not in seqs and 4 in seqs and 6 in seqs


def test_referer_requirement(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-60"], require_referer=True)
    master = sim.spaces()[0]["master"]
    with client(sim) as http:
        assert http.get(master).status_code == 403
        assert http.get(master, headers={"Referer": "https://twitter.com/"}).status_code == 200


def test_latency_and_throttle(make_sim: MakeSim) -> None:
    sim = make_sim(space=["start=-60"], latency_ms=200, throttle_kbps=100)
    with client(sim) as http:
        url = _first_chunk_url(http, sim)
        started = time.monotonic()
        size = len(http.get(url).content)
        took = time.monotonic() - started
    assert took >= 0.2 + size / 100_000 * 0.9
