"""The fetcher's own path to the transport (media skip the client's per-request work): what
the client would still do for it, it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from spacecast.backoff import RetryPolicy
from spacecast.download.fetch import Fetcher
from spacecast.errors import UserError
from spacecast.settings import XSettings
from spacecast.x import connect

MOVED = b"HTTP/1.1 302 Found\r\nLocation: /there\r\nContent-Length: 0\r\n\r\n"
ROUND = b"HTTP/1.1 302 Found\r\nLocation: /round\r\nContent-Length: 0\r\n\r\n"
THERE = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n#EXTM3U\nok\n"


@pytest.fixture
async def moved() -> AsyncIterator[tuple[str, list[str]]]:
    """`/here` answers 302 to `/there`, which answers 200; `/round` redirects to itself."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            path = head.split(b" ")[1].decode()
            seen.append(path)
            writer.write({"/here": MOVED, "/round": ROUND}.get(path, THERE))
            await writer.drain()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with srv:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}", seen


async def test_a_redirect_is_followed(moved: tuple[str, list[str]]) -> None:
    url, seen = moved
    async with connect.http_client(XSettings(), timeout_s=5) as http:
        text = await Fetcher(http, RetryPolicy(1)).text(f"{url}/here", "the list")
    assert text == "#EXTM3U\nok\n" and seen == ["/here", "/there"]


async def test_a_refused_connection_names_the_host(unused_tcp_port: int) -> None:
    async with connect.http_client(XSettings(), timeout_s=5) as http:
        with pytest.raises(UserError) as raised:
            await Fetcher(http, RetryPolicy(1)).text(f"http://127.0.0.1:{unused_tcp_port}/x", "it")
    assert f"127.0.0.1:{unused_tcp_port}" in raised.value.message


async def test_redirects_without_end_are_one_line(moved: tuple[str, list[str]]) -> None:
    url, _ = moved
    async with connect.http_client(XSettings(), timeout_s=5) as http:
        with pytest.raises(UserError) as raised:
            await Fetcher(http, RetryPolicy(2, base_s=0.01)).text(f"{url}/round", "the list")
    assert raised.value.message == (
        "the list: TooManyRedirects: Exceeded maximum allowed redirects. after 2 attempts"
    )
