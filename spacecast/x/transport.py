"""httpx's connection pool on plain asyncio streams instead of AnyIO's.

httpcore checks every pooled connection for readability each time it hands out or takes back a
connection, and through AnyIO each check rebuilds the TLS stream's attribute table and polls
the socket (encode/httpx#3215, encode/httpcore#928). At a dozen connections fetching a
Space's chunks that was about half a millisecond of CPU per request, more than the rest of the
request. Here the check is a flag asyncio keeps anyway: the server has closed the connection.
Everything else (HTTP/1.1, HTTP/2 by ALPN, TLS, timeouts, proxies from the environment) stays
httpx's and httpcore's; this module only supplies the byte stream under them.

It also keeps httpcore from searching the disk about ten times a request: httpcore 1.0 runs
`import sniffio` whenever it makes a lock, to tell asyncio from trio, and anyio 4.16 no longer
brings sniffio along. An import that fails is not remembered, so every one searched sys.path
again (65,000 file-system lookups, 3 s of CPU, for one hour of a Space: more than the rest of
the download). Marking the module absent makes the same ImportError instant.
"""

# The `timeout` parameters are httpcore's interface, not ours to change.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import h2.exceptions
import httpcore
import httpx

from spacecast.x.pool import Pool

if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # absent, and known to be

CLOSE_WAIT_S = 1.0  # how long closing waits for TLS's close_notify before giving up


@contextlib.contextmanager
def _mapped(timeout_as: type[Exception], error_as: type[Exception]) -> Iterator[None]:
    """Raise httpcore's exceptions, which httpx turns into its own."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout_as(str(exc) or "timed out") from exc
    except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
        raise error_as(str(exc) or exc.__class__.__name__) from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self._writer.wait_closed()
        except (OSError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # The close waiter of a TLS stream can itself end cancelled when the peer drops the
            # connection (an HTTP/2 GOAWAY, then the close) while httpcore closes it from inside
            # another request. That request's task is not being cancelled: it must go on to its
            # retry, not die as if it were (it did, and the chunk it was fetching was lost).
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            try:
                await self._writer.start_tls(
                    ssl_context, server_hostname=server_hostname, ssl_handshake_timeout=timeout
                )
            except BaseException:
                self._writer.close()
                raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle HTTP connection only turns readable when the server closes it, and asyncio
            # has already read that end-of-stream; no poll of the socket is needed.
            return self._reader.at_eof() or self._writer.is_closing()
        names = {"client_addr": "sockname", "server_addr": "peername"}
        return self._writer.get_extra_info(names.get(info, info))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        sock: socket.socket = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its pool built the same way but over `AsyncioBackend` (and with
    the two changes of `spacecast.x.pool`)."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits, http2: bool) -> None:
        super().__init__(verify=ssl_context, limits=limits, http2=http2)
        self._pool = Pool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=AsyncioBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """httpx's, except that h2's own ProtocolError is a transport error like the others.
        A server ends an HTTP/2 connection with GOAWAY (nginx after 1000 requests, as a CDN
        does), and streams still in flight can then meet h2's closed state machine before
        httpcore maps the failure (encode/httpcore#46, #1054): a request to retry, not a crash."""
        with _h2_mapped(request):
            response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _H2MappedStream(response.stream, request)  # the body meets it most
        return response


@contextlib.contextmanager
def _h2_mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except h2.exceptions.ProtocolError as exc:
        raise httpx.RemoteProtocolError(f"HTTP/2: {exc}", request=request) from exc


class _H2MappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner, self._request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _h2_mapped(self._request):
            async for part in self._inner:
                yield part

    async def aclose(self) -> None:
        with _h2_mapped(self._request):
            await self._inner.aclose()
