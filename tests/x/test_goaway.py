"""An HTTP/2 edge that ends its connections every few requests (GOAWAY, as CDNs do): the streams
it promised to finish are finished, the others go out again on a new connection, and the caller
never sees a failure."""

from __future__ import annotations

import asyncio

import httpcore
import httpx
import pytest

from spacecast.settings import XSettings
from spacecast.x import connect
from spacecast.x.goaway import MAX_TURNED_AWAY, FinishingHTTP2Connection
from tests.simulator.conftest import MakeSim

pytestmark = pytest.mark.slow
PER_CONNECTION = 5  # requests the edge answers on a connection before its GOAWAY
REQUESTS = 60


async def test_requests_in_flight_outlive_the_edge_ending_connections(make_sim: MakeSim) -> None:
    sim = make_sim(http2=True, http2_requests_per_connection=PER_CONNECTION)
    x = XSettings(x_ca_file=sim.ca_file, x_http2=True)
    async with connect.http_client(x, connections=4, timeout_s=20) as http:
        # Twenty at once: each connection takes more streams than its edge will answer.
        gate = asyncio.Semaphore(20)

        async def get(n: int) -> httpx.Response:
            async with gate:
                return await http.get(f"{sim.https_url}/_sim/?n={n}")

        answers = await asyncio.gather(*(get(n) for n in range(REQUESTS)))
    assert [a.status_code for a in answers] == [200] * REQUESTS
    assert {a.http_version for a in answers} == {"HTTP/2"}
    assert all(a.json()["spaces"] == answers[0].json()["spaces"] for a in answers)
    # Each connection answered at most its share: the edge did end them, every few requests.
    streams = [id(a.extensions["network_stream"]) for a in answers]
    assert max(streams.count(s) for s in set(streams)) <= PER_CONNECTION
    assert len(set(streams)) >= REQUESTS // PER_CONNECTION


def test_a_request_turned_away_without_end_fails() -> None:
    """A server that ends every connection before taking anything (GOAWAY with last_stream_id
    0) must not make the pool reconnect for ever: the request fails, and its caller backs off."""
    origin = httpcore.Origin(b"https", b"x", 443)
    connection = FinishingHTTP2Connection(origin=origin, stream=None)
    request = httpcore.Request("GET", "https://x/")
    for _ in range(MAX_TURNED_AWAY):
        with pytest.raises(httpcore.ConnectionNotAvailable):
            connection._send_elsewhere(request, None)
    with pytest.raises(httpcore.RemoteProtocolError, match="ended 17 connections"):
        connection._send_elsewhere(request, None)
