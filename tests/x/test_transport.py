"""httpx over the asyncio network backend: real sockets, real TLS, httpx's own exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from simulator.server import Simulator
from spacecast.settings import XSettings
from spacecast.x import connect
from spacecast.x.transport import AsyncioStream
from tests.wait import until


def settings(sim: Simulator | None = None) -> XSettings:
    return XSettings(x_ca_file=sim.ca_file if sim else None)


async def test_requests_go_over_asyncio_streams(sim: Simulator) -> None:
    async with connect.http_client(settings(sim), timeout_s=10) as http:
        first = await http.get(f"{sim.https_url}/_sim/")
        second = await http.get(f"{sim.https_url}/_sim/")
    assert first.status_code == second.status_code == 200
    assert isinstance(first.extensions["network_stream"], AsyncioStream)
    # One connection, kept alive and reused.
    assert first.extensions["network_stream"] is second.extensions["network_stream"]


async def test_an_untrusted_certificate_is_a_connect_error(sim: Simulator) -> None:
    async with connect.http_client(settings(), timeout_s=10) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"{sim.https_url}/_sim/")


async def test_nobody_listening_is_a_connect_error(unused_tcp_port: int) -> None:
    async with connect.http_client(settings(), timeout_s=5) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{unused_tcp_port}/")


ONE_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    """Answers one request per connection, then closes it while the client keeps it pooled;
    `/silent` is never answered."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1].decode()
        seen.append(line)
        if line != "/silent":
            writer.write(ONE_REPLY)
            await writer.drain()
        else:
            await asyncio.sleep(30)
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield f"http://127.0.0.1:{port}", seen


async def test_a_connection_the_server_closed_is_not_reused(
    server: tuple[str, list[str]],
) -> None:
    url, seen = server
    async with connect.http_client(settings(), timeout_s=5) as http:
        first = await http.get(f"{url}/one")
        stream = first.extensions["network_stream"]
        await until(lambda: stream.get_extra_info("is_readable"))  # the server's close arrived
        second = await http.get(f"{url}/two")
    assert first.text == second.text == "ok" and seen == ["/one", "/two"]
    assert first.extensions["network_stream"] is not second.extensions["network_stream"]


async def test_no_answer_is_a_read_timeout(server: tuple[str, list[str]]) -> None:
    url, _ = server
    async with connect.http_client(settings(), timeout_s=0.3) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{url}/silent")


class Lookups:
    """A meta path finder that finds nothing and counts what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.asked.append(name)


async def test_httpcores_locks_never_search_the_disk() -> None:
    """httpcore asks `import sniffio` for every lock it makes; without sniffio installed each
    of those searched sys.path again (3 s of CPU in an hour's download)."""
    import sys

    import httpcore._synchronization as sync

    import spacecast.x.transport  # noqa: F401  (what marks sniffio)

    lookups = Lookups()
    sys.meta_path.insert(0, lookups)
    try:
        for _ in range(50):
            assert sync.current_async_library() == "asyncio"
            sync.AsyncLock()
    finally:
        sys.meta_path.remove(lookups)
    assert "sniffio" not in lookups.asked
