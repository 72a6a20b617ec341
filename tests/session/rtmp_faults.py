"""An RTMP ingest that misbehaves on cue, for the publisher's and the destinations' fault
tests: what nginx-rtmp will not do on request (cut a handshake, answer garbage, refuse a
publish with a status that quotes the key, accept and drop every few seconds). It speaks just
enough RTMP, with our own chunker and AMF, to reach each fault.

    behaviours:
      cut-handshake     close after reading C0C1
      connect-error     answer `connect` with `_error`
      garbage           answer `connect` with a command whose AMF is nonsense
      close-on-publish  accept connect and createStream, close when asked to publish
      bad-name          answer publish with an error-level NetStream.Publish.BadName that
                        quotes the stream key, with an escape sequence in it
      accept            publish, then read until the client goes (or `hold_s` passes)
      stall-first       on the first publish, stop reading (a wedged server) until `resume`
                        is set, then read what is left on that connection, counting it in
                        `after_resume`; later connections as "accept"
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import cast

from spacecast.session import amf
from spacecast.session.rtmp import COMMAND, HANDSHAKE_SIZE, ChunkReader, chunk


def _command(*values: object) -> bytes:
    return chunk(3, 0, COMMAND, 0, b"".join(amf.encode(v) for v in values))


@dataclass
class FaultyIngest:
    behaviour: str = "accept"
    hold_s: float | None = None  # "accept": drop the connection after this long
    connections: int = 0
    published: int = 0
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    after_resume: int = 0  # "stall-first": bytes read from the stalled connection
    counted: asyncio.Event = field(default_factory=asyncio.Event)  # ...to its end
    republished: asyncio.Event = field(default_factory=asyncio.Event)  # a second publish
    holds_at_most: int = 0  # "stall-first": what the server side can hold while stalled
    _server: asyncio.Server | None = field(default=None, repr=False)

    # A small receive buffer on the server side, so what a stalled connection holds is known.
    RECEIVE_BUFFER, READ_LIMIT = 32 * 1024, 4096

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, limit=self.READ_LIMIT
        )
        listener = self._server.sockets[0]  # accepted connections inherit its receive buffer
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)
        return int(listener.getsockname()[1])

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _script(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(1 + HANDSHAKE_SIZE)
        if self.behaviour == "cut-handshake":
            return
        writer.write(b"\x03" + os.urandom(HANDSHAKE_SIZE) * 2)
        await reader.readexactly(HANDSHAKE_SIZE)
        chunks = ChunkReader(reader)
        while True:
            kind, _, payload = await chunks.message()
            if kind == 1:
                chunks.chunk_size = int.from_bytes(payload[:4]) & 0x7FFFFFFF
            if kind != COMMAND:
                continue
            name, txn = amf.decode_all(payload)[:2]
            if not await self._answer(str(name), float(txn), writer):
                return
            await writer.drain()

    async def _answer(self, name: str, txn: float, writer: asyncio.StreamWriter) -> bool:
        """Answer one command; False to end the connection."""
        b = self.behaviour
        if name == "connect":
            if b == "connect-error":
                writer.write(
                    _command(
                        "_error",
                        txn,
                        None,
                        {"level": "error", "code": "NetConnection.Connect.Rejected"},
                    )
                )
            elif b == "garbage":
                writer.write(chunk(3, 0, COMMAND, 0, b"\x02\x00\x07_result\x99\x99\x99"))
            else:
                writer.write(
                    _command("_result", txn, None, {"code": "NetConnection.Connect.Success"})
                )
        elif name == "createStream":
            writer.write(_command("_result", txn, None, 1.0))
        elif name == "publish":
            return await self._publish(writer)
        return True

    async def _publish(self, writer: asyncio.StreamWriter) -> bool:
        if self.behaviour == "close-on-publish":
            return False
        if self.behaviour == "bad-name":
            writer.write(_command("onStatus", 0.0, None, {
                "level": "error", "code": "NetStream.Publish.BadName",
                "description": "stream SECRETKEY is \x1b[31mtaken\n",
            }))  # fmt: skip
            return True
        writer.write(
            _command("onStatus", 0.0, None, {"level": "status", "code": "NetStream.Publish.Start"})
        )
        self.published += 1
        if self.published == 2:
            self.republished.set()
        if self.behaviour == "stall-first" and self.published == 1:
            await self._stall(writer)
            return False
        if self.hold_s is not None:
            await writer.drain()
            await asyncio.sleep(self.hold_s)
            return False
        return True

    async def _stall(self, writer: asyncio.StreamWriter) -> None:
        """Stop reading until `resume`; then count what still arrives on this connection."""
        await writer.drain()
        cast(asyncio.Transport, writer.transport).pause_reading()  # a socket: reads too
        sock = writer.get_extra_info("socket")
        # What is read below comes from the kernel's receive queue alone (getsockopt reports
        # the doubled size the kernel really allows it).
        self.holds_at_most = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        await self.resume.wait()
        raw = socket.socket(fileno=os.dup(sock.fileno()))
        raw.setblocking(True)
        raw.settimeout(5)
        try:
            while data := await asyncio.to_thread(raw.recv, 65536):
                self.after_resume += len(data)
        except OSError:
            pass  # reset by the client: the end of it
        finally:
            raw.close()
            self.counted.set()


class InThread:
    """A FaultyIngest on a loop of its own, for tests that drive a real session synchronously."""

    def __init__(self, ingest: FaultyIngest) -> None:
        self.ingest = ingest
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(ingest.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.ingest.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
