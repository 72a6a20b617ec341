"""The simulator's outage lever (simulator/outage.py), as a client of X meets it."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import MakeSim, client, guest_headers


def test_each_mode_fails_the_api_then_it_comes_back(make_sim: MakeSim) -> None:
    sim = make_sim()
    with client(sim) as http:
        headers = guest_headers(http)
        status = "/1.1/live_video_stream/status/28_000"
        lever = http.post("/_sim/outage", params={"mode": "5xx", "seconds": 30})
        assert lever.status_code == 200 and lever.json()["mode"] == "5xx"
        assert http.get(status, headers=headers).status_code == 503
        assert http.get("/_sim/").status_code == 200  # levers never fail
        http.post("/_sim/outage", params={"mode": "reset", "seconds": 30})
        with pytest.raises(httpx.TransportError):
            http.get(status, headers=headers)
        http.post("/_sim/outage", params={"mode": "hang", "seconds": 1.5})
        started = time.monotonic()
        with pytest.raises(httpx.TransportError):
            http.get(status, headers=headers)
        assert time.monotonic() - started >= 1.0  # held until the outage was over
        assert http.get(status, headers=headers).status_code != 503  # over: served again
        assert http.post("/_sim/outage", params={"seconds": 0}).json()["failed_so_far"] == 3


def test_media_scope_leaves_the_api_alone(make_sim: MakeSim) -> None:
    sim = make_sim()
    with client(sim) as http:
        http.post("/_sim/outage", params={"mode": "5xx", "scope": "media", "seconds": 30})
        assert http.post("/1.1/guest/activate.json", headers={"Authorization": "Bearer x"}
                         ).status_code != 503  # fmt: skip
        assert http.get("/Transcoding/v1/hls/t/non_transcode/r/d/audio-space/x.m3u8"
                        ).status_code == 503  # fmt: skip


BAD = [{"mode": "melt"}, {"scope": "moon"}, {"seconds": "-1"}, {"seconds": "1e9"},
       {"rate": "2"}, {"seconds": "x"}]  # fmt: skip


@pytest.mark.parametrize("query", BAD)
def test_bad_levers_are_refused_with_the_reason(make_sim: MakeSim, query: dict[str, str]) -> None:
    sim = make_sim()
    with client(sim) as http:
        answer = http.post("/_sim/outage", params=query)
        assert answer.status_code == 400 and answer.text.strip()
