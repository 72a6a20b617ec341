"""Through an HTTP/2 CDN edge (`spacecast simulate --http2`: nginx in front of the origin), as
X's CDN speaks: the protocol the download reports is the one negotiated, so a silent fall-back
to HTTP/1.1 fails; the faults the origin makes reach the client through the edge, and the audio
stays exact."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simulator.conftest import MakeSim

from .conftest import Download, adts_of, final_list, truth

pytestmark = pytest.mark.slow
SPACE_ID = "1EndedReplay1"
SPACE = f"id={SPACE_ID},start=-900,duration=90,title=Old Talk,host=old_host"


def exact(sim: Any, result: Any) -> bool:
    count = len(final_list(sim, SPACE_ID).segments)
    return adts_of(Path(result.summary["output"])) == truth(sim, SPACE_ID, 0, count)


def test_the_edge_speaks_http2_and_http11_by_alpn(make_sim: MakeSim) -> None:
    sim = make_sim(space=[SPACE], http2=True)
    verify = ssl.create_default_context(cafile=sim.ca_file)
    answers = []
    for h2 in (True, False):
        with httpx.Client(http2=h2, verify=verify) as client:
            answers.append(client.get(sim.https_url + "/_sim/"))
    assert [a.http_version for a in answers] == ["HTTP/2", "HTTP/1.1"]
    # The origin behind the edge writes the URLs the client used (https, the edge's port).
    masters = [s["master"] for a in answers for s in a.json()["spaces"]]
    assert masters and all(m.startswith(sim.https_url + "/") for m in masters), masters[:1]


@pytest.mark.parametrize(
    "knob",
    [
        {},
        {"truncate_rate": 0.3},
        {"truncate_rate": 0.3, "omit_content_length": True},
        {"chunk_404_rate": 0.3, "stray_bytes_rate": 0.5},
        {"throttle_kbps": 400},
    ],
    ids=lambda knob: ",".join(f"{k}={v}" for k, v in knob.items()) or "clean",
)
def test_a_download_over_http2_is_exact(
    make_sim: MakeSim, download: Download, knob: dict[str, Any]
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, http2=True, **knob)
    result = download(sim, SPACE_ID)
    assert result.code == 0, result.err
    assert result.summary["http_version"] == "HTTP/2"
    assert exact(sim, result)


def test_http11_stays_selectable(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, http2=True)
    result = download(sim, SPACE_ID, "--no-x-http2")
    assert result.code == 0, result.err
    assert result.summary["http_version"] == "HTTP/1.1" and exact(sim, result)
    plain = make_sim(space=[SPACE], final_list_404_s=0)  # the simulator's own HTTPS: 1.1 only
    result = download(plain, SPACE_ID, "--overwrite")
    assert result.code == 0 and result.summary["http_version"] == "HTTP/1.1"


def test_the_edge_ending_its_connections_mid_download(
    make_sim: MakeSim, download: Download
) -> None:
    """GOAWAY after every 15 requests, with 20 in flight: the streams the edge took are
    finished, the others go out on a new connection, and nothing is lost or even retried."""
    space = SPACE.replace("duration=90", "duration=240")
    sim = make_sim(space=[space], final_list_404_s=0, http2=True, http2_requests_per_connection=15)
    result = download(sim, SPACE_ID)
    assert result.code == 0, result.err
    assert result.summary["http_version"] == "HTTP/2" and exact(sim, result)
    assert '"event": "retrying"' not in result.err
