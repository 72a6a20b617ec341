"""httpcore's connection pool, with two changes: its HTTP/2 connections finish their streams
after a graceful GOAWAY (`spacecast.x.goaway`), and it assigns requests to connections in one
pass over them.

httpcore 1.0.9 checks every connection at the start and at the end of every request, and for
each idle one it counts all the connections again, to decide whether the idle ones exceed the
keep-alive limit (and the count is of every connection, idle or not). With twenty connections
fetching a Space's chunks that was a tenth of the download's CPU. Here the idle ones are
counted as the pass goes, and a connection is closed as surplus only when the idle ones exceed
the limit. Everything else is httpcore's order: closed and expired connections are dropped
first, then each queued request takes the first connection that can serve it, or a new one
while there is room, or the place of an idle one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpcore

from spacecast.x.goaway import FinishingConnection

if TYPE_CHECKING:
    from httpcore._async.connection_pool import AsyncPoolRequest

Connections = list[httpcore.AsyncConnectionInterface]


class Pool(httpcore.AsyncConnectionPool):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        if self._proxy is not None:  # those through a proxy stay httpcore's own
            return super().create_connection(origin)
        return FinishingConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=self._http1,
            http2=self._http2,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            network_backend=self._network_backend,
            socket_options=self._socket_options,
        )

    def _assign_requests_to_connections(self) -> Connections:
        closing: Connections = []
        kept: Connections = []
        idle = 0
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.has_expired():
                closing.append(connection)
            elif (is_idle := connection.is_idle()) and idle >= self._max_keepalive_connections:
                closing.append(connection)  # surplus idle
            else:
                idle += is_idle
                kept.append(connection)
        self._connections = kept
        for pool_request in self._requests:
            if pool_request.is_queued():
                closing += self._assign(pool_request)
        return closing

    def _assign(self, pool_request: AsyncPoolRequest) -> Connections:
        """Give `pool_request` a connection if one can be had; what must be closed for it."""
        origin = pool_request.request.url.origin
        for connection in self._connections:
            if connection.can_handle_request(origin) and connection.is_available():
                pool_request.assign_to_connection(connection)
                return []
        closing: Connections = []
        if len(self._connections) >= self._max_connections:
            idle = next((c for c in self._connections if c.is_idle()), None)
            if idle is None:
                return []  # it waits for one
            self._connections.remove(idle)
            closing.append(idle)
        connection = self.create_connection(origin)
        self._connections.append(connection)
        pool_request.assign_to_connection(connection)
        return closing
