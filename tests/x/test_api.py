"""The X client against the simulator: metadata, stream location, and every refusal typed."""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from simulator.server import Simulator
from spacecast.errors import ExitCode
from spacecast.settings import XSettings
from spacecast.x import connect
from spacecast.x.api import Query, XClient
from spacecast.x.auth import Auth, Cookies
from spacecast.x.errors import (
    REDIRECTED,
    AuthRefused,
    FeaturesRejected,
    RateLimited,
    SpaceNotFound,
    StreamUnavailable,
    XHttpError,
)
from tests.simulator.conftest import MakeSim

SPACES = [
    "id=1EndedReplay1,start=-900,duration=300,title=Old,host=old_host",
    "id=1RunningNow12,start=-60,duration=3600,title=Now",
    "id=1EndedNoRep12,start=-900,duration=300,replay=no",
    "id=1Scheduled123,start=3600",
]
Factory = Callable[..., XClient]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(http2=True, timeout=10) as client:
        yield client


def x_client(sim: Simulator, http: httpx.AsyncClient, **kwargs: object) -> XClient:
    verify = ssl.create_default_context(cafile=sim.ca_file)
    http._transport = httpx.AsyncHTTPTransport(verify=verify, http2=True)
    cookies = kwargs.pop("cookies", None)
    auth = Auth(cookies, f"{sim.https_url}/1.1/guest/activate.json")  # type: ignore[arg-type]
    return XClient(http, auth, sim.https_url, **kwargs)  # type: ignore[arg-type]


async def test_metadata_and_locations(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = make_sim(space=SPACES)
    x = x_client(sim, http)
    old = await x.space("1EndedReplay1")
    assert (old.state, old.ended, old.replay_available, old.title) == ("Ended", True, True, "Old")
    assert old.host.screen_name == "old_host" and old.ended_at and old.started_at
    assert old.media_key and "/playlist_" in await x.stream_location(old.media_key)
    now = await x.space("1RunningNow12")
    assert now.running and now.media_key
    assert "dynamic_playlist.m3u8" in await x.stream_location(now.media_key)
    later = await x.space("1Scheduled123")
    assert later.not_started and later.scheduled_start and not later.started_at
    gone = await x.space("1EndedNoRep12")
    with pytest.raises(StreamUnavailable):
        await x.stream_location(str(gone.media_key))
    with pytest.raises(SpaceNotFound) as err:
        await x.space("1Unknown12345")
    assert err.value.code == ExitCode.SPACE_NOT_FOUND
    assert x.auth.activations == 1  # one guest token served every call


async def test_guest_token_refreshed_when_x_expires_it(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = make_sim(space=SPACES)
    x = x_client(sim, http)
    await x.space("1EndedReplay1")
    sim.sim.guests.expire_all()  # X answers 403 code 239 to the cached token
    await x.space("1EndedReplay1")
    assert x.auth.activations == 2


async def test_late_2025_schema_reads_core_names(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = make_sim(space=SPACES, omit_legacy_names=True)
    meta = await x_client(sim, http).space("1EndedReplay1")
    assert meta.host.screen_name == "old_host"


class MismatchedCsrf(Auth):
    async def headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        return await super().headers(http) | {"x-csrf-token": "0" * 160}


async def test_refusals_are_typed(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = make_sim(space=SPACES, valid_auth_tokens=["c" * 40])
    cookies = Cookies("a" * 40, "b" * 160)
    with pytest.raises(AuthRefused):  # 401: X does not know this auth_token
        await x_client(sim, http, cookies=cookies).space("1EndedReplay1")
    x = XClient(http, MismatchedCsrf(cookies, ""), sim.https_url)
    with pytest.raises(AuthRefused, match="csrf") as err:
        await x.space("1EndedReplay1")
    assert err.value.code == ExitCode.AUTH_REFUSED
    good = Cookies("c" * 40, "b" * 160)
    assert (await x_client(sim, http, cookies=good).space("1EndedReplay1")).title == "Old"


async def test_guest_access_off(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = make_sim(space=SPACES, guest_enabled=False)
    with pytest.raises(AuthRefused):
        await x_client(sim, http).space("1EndedReplay1")


async def test_feature_flags_rejected_after_every_query(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    sim = make_sim(space=SPACES)
    queries = (Query("HPEisOmj1epUNLCWTYhUWw", {}, {}), Query("retiredQueryId0000000", {}))
    with pytest.raises(FeaturesRejected, match="cannot be null") as err:
        await x_client(sim, http, queries=queries).space("1EndedReplay1")
    assert err.value.code == ExitCode.FEATURES_REJECTED
    served = (await http.get(f"{sim.https_url}/_sim/requests")).json()["recent"]
    asked = [s["path"].split("/")[-2] for s in served if s["path"].endswith("/AudioSpaceById")]
    assert asked == ["HPEisOmj1epUNLCWTYhUWw", "retiredQueryId0000000"]  # each one, once


async def test_429_waits_for_reset_within_budget(
    make_sim: MakeSim, http: httpx.AsyncClient
) -> None:
    """The 4th and 5th API calls are answered 429; each retry comes after the advertised reset."""
    sim = make_sim(space=SPACES, burst_429_every=4, burst_429_length=2, burst_429_reset_s=0.3)
    x = x_client(sim, http)
    for _ in range(4):
        assert (await x.space("1EndedReplay1")).title == "Old"
    served = (await http.get(f"{sim.https_url}/_sim/requests")).json()["recent"]
    calls = [s for s in served if s["path"].endswith("/AudioSpaceById")]
    assert [s["status"] for s in calls] == [200, 200, 200, 429, 429, 200]
    for limited, retry in itertools.pairwise(calls[3:]):
        assert retry["at"] >= limited["reset"], "retried before the reset X advertised"


async def test_429_beyond_budget(make_sim: MakeSim, http: httpx.AsyncClient) -> None:
    sim = make_sim(space=SPACES, api_rate_limit=1)
    x = x_client(sim, http, rate_limit_budget_s=5)
    await x.space("1EndedReplay1")
    with pytest.raises(RateLimited) as err:  # the window resets up to 15 minutes later
        await x.space("1EndedReplay1")
    assert err.value.code == ExitCode.RATE_LIMITED


@pytest.fixture
async def redirecting() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An API host that answers every call with a redirect to another host, which keeps every
    request it gets (what a followed redirect would have told it)."""
    elsewhere: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        elsewhere.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    async with await asyncio.start_server(record, "127.0.0.1", 0) as other:
        away = f"http://127.0.0.1:{other.sockets[0].getsockname()[1]}/steal"
        moved = f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {away}\r\n".encode()

        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(moved + b"Content-Length: 0\r\n\r\n")
                await writer.drain()

        async with await asyncio.start_server(redirect, "127.0.0.1", 0) as api:
            yield f"http://127.0.0.1:{api.sockets[0].getsockname()[1]}", elsewhere


@pytest.mark.parametrize("cookies", [Cookies("a" * 40, "b" * 160), None], ids=["cookies", "guest"])
async def test_an_api_redirect_is_an_answer_never_followed(
    redirecting: tuple[str, list[bytes]], cookies: Cookies | None
) -> None:
    base, elsewhere = redirecting
    async with connect.http_client(XSettings(), timeout_s=5) as http:
        x = XClient(http, Auth(cookies, f"{base}/1.1/guest/activate.json"), base)
        with pytest.raises(XHttpError) as raised:
            await x.space("1EndedReplay1")
    assert raised.value.message.endswith("HTTP 307: " + REDIRECTED), raised.value.message
    assert raised.value.code == ExitCode.MEDIA_UNAVAILABLE
    assert elsewhere == []  # neither the CSRF token nor a guest token went anywhere else
