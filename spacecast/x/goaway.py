"""HTTP/2 connections whose streams finish after the server's graceful GOAWAY.

A server ends an HTTP/2 connection after so many requests (nginx's keepalive_requests, as CDNs
do) with GOAWAY(NO_ERROR, last_stream_id): it finishes every stream up to that id, and no other
(RFC 9113 6.8). httpcore 1.0 and h2 4 treat any GOAWAY as the end of everything: h2 refuses the
frames of the streams still being answered, and httpcore fails every stream that has not read
its whole answer yet (encode/httpcore#1054, open). With twenty chunks in flight and a
connection ended after fifteen requests, nearly all of them failed, on every connection.

Here, after a graceful GOAWAY:
- the streams up to last_stream_id read their answers to the end (h2's connection state
  machine takes the frames they need in its CLOSED state);
- a stream above it, or a request whose headers h2 refused to send, is ConnectionNotAvailable,
  which httpcore's pool answers by sending it on another connection: the caller sees nothing;
- the connection takes no new request (h2's CLOSED state tells the pool so), and closes when
  its last stream does;
- what the finishing streams would still write (flow control) may meet a socket the server has
  already closed; they need none of it, so that failure is not theirs.
A GOAWAY with an error code stays what httpcore makes of it: every stream fails.
"""

from __future__ import annotations

from typing import Any, NoReturn

import h2.errors
import h2.events
import httpcore
from h2.connection import ConnectionInputs as In
from h2.connection import ConnectionState as State

# What a stream being finished needs from a connection in CLOSED: its answer's frames, the
# server's flow control and pings, and our acknowledgements. Never a new request's headers.
_FINISHING = (
    In.RECV_HEADERS,
    In.RECV_DATA,
    In.RECV_RST_STREAM,
    In.RECV_WINDOW_UPDATE,
    In.RECV_PING,
    In.RECV_SETTINGS,
    In.RECV_PRIORITY,
    In.SEND_WINDOW_UPDATE,
    In.SEND_RST_STREAM,
    In.SEND_PING,
    In.SEND_SETTINGS,
)
_TRANSITIONS = {(State.CLOSED, i): (None, State.CLOSED) for i in _FINISHING}
TURNED_AWAY = "spacecast.turned_away"  # the request's own count, in its extensions
MAX_TURNED_AWAY = 16  # with 20 in flight and 5 a connection, 4 happen (tests/x/test_goaway.py)


class FinishingHTTP2Connection(httpcore.AsyncHTTP2Connection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._goaway: h2.events.ConnectionTerminated | None = None
        self._terminated: h2.events.ConnectionTerminated | None = None
        super().__init__(*args, **kwargs)
        machine = self._h2_state.state_machine
        # h2's table is its class's; this connection's own copy also finishes streams.
        machine._transitions = {**machine._transitions, **_TRANSITIONS}

    # httpcore stores the GOAWAY here and fails every stream that reads after it. A graceful
    # one is kept apart, so that only the streams above its last_stream_id are turned away.
    @property
    def _connection_terminated(self) -> h2.events.ConnectionTerminated | None:
        return self._terminated

    @_connection_terminated.setter
    def _connection_terminated(self, event: h2.events.ConnectionTerminated | None) -> None:
        if event is not None and event.error_code == h2.errors.ErrorCodes.NO_ERROR:
            self._goaway = event
        else:
            self._terminated = event

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        try:
            return await super().handle_async_request(request)
        except httpcore.LocalProtocolError as exc:
            if self._goaway is None:
                raise
            # The GOAWAY was read before this request's headers went out, and h2 refused to
            # send them: the server never saw it.
            self._send_elsewhere(request, exc)

    async def _receive_events(
        self, request: httpcore.Request, stream_id: int | None = None
    ) -> None:
        if self._above_last(stream_id):
            self._send_elsewhere(request, None)
        try:
            await super()._receive_events(request, stream_id)
        except (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.ReadTimeout) as exc:
            # It passed the check before another stream read the GOAWAY: the server then
            # closed, reset or kept quiet once it had finished the others.
            if self._above_last(stream_id):
                self._send_elsewhere(request, exc)
            raise

    def _above_last(self, stream_id: int | None) -> bool:
        last = self._goaway.last_stream_id if self._goaway is not None else None
        return last is not None and stream_id is not None and stream_id > last

    def _send_elsewhere(self, request: httpcore.Request, cause: Exception | None) -> NoReturn:
        """ConnectionNotAvailable, which the pool answers by sending the request on another
        connection; a request turned away that often fails instead (a server that ends every
        connection before taking anything, GOAWAY with last_stream_id 0, must not make the
        pool reconnect without end)."""
        self._request_count -= 1
        turned = request.extensions.get(TURNED_AWAY, 0) + 1
        request.extensions[TURNED_AWAY] = turned
        if turned > MAX_TURNED_AWAY:
            raise httpcore.RemoteProtocolError(
                f"the server ended {turned} connections before taking the request"
            ) from cause
        raise httpcore.ConnectionNotAvailable() from cause

    async def _write_outgoing_data(self, request: httpcore.Request) -> None:
        try:
            await super()._write_outgoing_data(request)
        except httpcore.WriteError:
            if self._goaway is None and not self._network_stream.get_extra_info("is_readable"):
                raise
            # The connection is lost (a server closes it after its GOAWAY, and a write fails
            # before the GOAWAY is read): what the server sent before is still to be read, and
            # that decides each stream (its whole answer, the GOAWAY turning it away, or the
            # end of the data), not this write.

    async def _response_closed(self, stream_id: int) -> None:
        await super()._response_closed(stream_id)
        if self._goaway is not None and not self._events and not self.is_closed():
            await self.aclose()


class FinishingConnection(httpcore.AsyncHTTPConnection):
    """httpcore's connection to one origin, HTTP/2 by ALPN being `FinishingHTTP2Connection`.
    httpcore makes its HTTP/2 connection inside this method; this is the same choice."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        async with self._request_lock:
            if self._connection is None:
                try:
                    stream = await self._connect(request)
                except BaseException:
                    self._connect_failed = True
                    raise
                ssl_object = stream.get_extra_info("ssl_object")
                h2_by_alpn = ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
                kind = (
                    FinishingHTTP2Connection
                    if h2_by_alpn or (self._http2 and not self._http1)
                    else httpcore.AsyncHTTP11Connection
                )
                self._connection = kind(
                    origin=self._origin, stream=stream, keepalive_expiry=self._keepalive_expiry
                )
        return await self._connection.handle_async_request(request)
