"""A fault proxy in front of the RTMP ingest (what LiveKit Egress gets from toxiproxy), for
tests of what a cast does when the path to X's ingest misbehaves; the same relay, listening
with TLS, is the ingest's RTMPS front (`--ingest-tls`), as a TLS terminator is in front of a
real RTMP server. With `--ingest-proxy`, the
ingest's URL is the proxy's, and every connection is relayed to nginx unless a fault is on:

    POST /_sim/ingest/fault?mode=M[&seconds=N][&up=U&down=D][&kbps=K][&bytes=B]

    pass           relay (the default; ends any fault)
    blackhole      for N s relay nothing either way and stop reading, so the sender's writes
                   back up (a wedged connection); open and new connections alike
    slow           for N s relay at most K kbit/s each way
    cut            close every open connection, now
    refuse         for N s close new connections at once (the ingest down)
    flap           for N s: up U s, down D s, again and again (down: open connections are
                   cut and new ones refused)
    cut-handshake  for N s close each new connection after its first B bytes from the client

Bounded: N within an hour, U and D within 0.1..600 s, K within 1..10^6, B within 1..10^6.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass

from simulator.query import bounded

RECEIVE_WINDOW = 64 * 1024
MODES = ("pass", "blackhole", "slow", "cut", "refuse", "flap", "cut-handshake")
READ = 65536


@dataclass(frozen=True)
class Fault:
    mode: str = "pass"
    start: float = 0.0
    until: float = 0.0  # time.monotonic()
    up: float = 2.0
    down: float = 5.0
    kbps: float = 1000.0
    bytes: int = 1000

    @classmethod
    def parse(cls, query: dict[str, str]) -> Fault:
        """From the lever's query; ValueError names what is wrong."""
        mode = query.get("mode", "pass")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        now = time.monotonic()
        return cls(
            mode, now, now + bounded(query, "seconds", 30, 0, 3600),
            up=bounded(query, "up", 2, 0.1, 600), down=bounded(query, "down", 5, 0.1, 600),
            kbps=bounded(query, "kbps", 1000, 1, 1e6),
            bytes=int(bounded(query, "bytes", 1000, 1, 1e6)),
        )  # fmt: skip

    def on(self, now: float) -> str:
        """The mode in force at `now`: "pass" outside the window; for flap, "refuse" while down."""
        if self.mode == "pass" or now >= self.until:
            return "pass"
        if self.mode == "flap":
            return "pass" if (now - self.start) % (self.up + self.down) < self.up else "refuse"
        return self.mode


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.fault = Fault()
        self.connections = 0  # accepted, for tests that must show the fault was met
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> int:
        """Listen on a free loopback port; with `tls`, as a TLS terminator (RTMPS)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        listener = self._server.sockets[0]
        # A small receive window, as a real ingest's path has (loopback's autotuning would grow
        # it to megabytes, and a blackhole would swallow half a minute of media before the
        # sender felt it). Set on the listener, so accepted connections start with it.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_WINDOW)
        self.port = int(listener.getsockname()[1])
        self._ticker = asyncio.create_task(self._tick())
        return self.port

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self._server:
            self._server.close()
        self._cut()

    def set(self, fault: Fault) -> None:
        self.fault = fault
        if fault.mode == "cut":
            self._cut()

    def _cut(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _tick(self) -> None:
        """Flap's down phases cut what is open."""
        was = "pass"
        while True:
            now = self.fault.on(time.monotonic())
            if now == "refuse" and was != "refuse":
                self._cut()
            was = now
            await asyncio.sleep(0.05)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.fault.on(time.monotonic()) == "refuse":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        limit = self.fault.bytes if self.fault.on(time.monotonic()) == "cut-handshake" else None
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, limit), self._pump(up_reader, writer)
            )
        except (ConnectionError, OSError):
            pass
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                w.transport.abort()

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, limit: int | None = None
    ) -> None:
        relayed = 0
        while data := await src.read(READ):
            while (mode := self.fault.on(time.monotonic())) == "blackhole":  # noqa: ASYNC110
                # Not reading either, so the sender's window closes; the fault has a deadline,
                # not an event to wait on.
                await asyncio.sleep(0.05)
            if limit is not None and relayed + len(data) >= limit:
                dst.write(data[: max(0, limit - relayed)])
                with contextlib.suppress(ConnectionError, OSError):
                    await dst.drain()
                raise ConnectionResetError("cut mid-handshake")
            if mode == "slow":
                await asyncio.sleep(len(data) * 8 / (self.fault.kbps * 1000))
            dst.write(data)
            relayed += len(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
