"""A small RTMP(S) publisher: handshake, connect, createStream, publish, then audio, video and
metadata messages.

Why our own rather than ffmpeg's output: the stream key never has to be a process argument (it
would show in `ps`); each destination is isolated and reconnects on its own while one encoder
keeps running; and we see exactly what happens on the wire: a publish the server rejects on the
first connect (a bad key: fatal), bytes actually written (a wedged connection), reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import ssl
import struct
import termios
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from spacecast.session import amf

HANDSHAKE_SIZE = 1536
OUT_CHUNK_SIZE = 4096
# Message types.
SET_CHUNK_SIZE, ACK, USER_CONTROL, WINDOW_ACK_SIZE, SET_PEER_BANDWIDTH = 1, 3, 4, 5, 6
AUDIO, VIDEO, DATA, COMMAND = 8, 9, 18, 20
PING_REQUEST, PING_RESPONSE = 6, 7
# Chunk streams we write on.
CS_CONTROL, CS_COMMAND, CS_AUDIO, CS_DATA, CS_VIDEO = 2, 3, 4, 5, 6
CHUNK_STREAM = {AUDIO: CS_AUDIO, VIDEO: CS_VIDEO, DATA: CS_DATA}


class RtmpError(Exception):
    """The connection failed or broke; worth reconnecting."""


class Stale(RtmpError):
    """The connection stopped carrying media in time (wedged, or behind the encoder): what it
    still holds is old news, to be thrown away with it (`RtmpPublisher.abandon`), not sent."""


class PublishRejected(RtmpError):
    """The server said no to our publish: `_error` in answer to it, or an error-level
    `NetStream.Publish.*` status (BadName, Rejected: a bad stream key)."""


class ClosedOnPublish(RtmpError):
    """The server closed the connection right after our publish without a word: how
    nginx-rtmp refuses a key its on_publish hook denies, or a network cut at that moment.
    Whoever sees it twice in a row may take it for a refusal."""


@dataclass(frozen=True)
class RtmpUrl:
    scheme: str
    host: str
    port: int
    app: str
    stream: str  # the stream key: a secret

    @classmethod
    def parse(cls, text: str) -> RtmpUrl:
        parts = urlsplit(text.strip())
        if parts.scheme not in ("rtmp", "rtmps") or not parts.hostname:
            raise ValueError("not an rtmp:// or rtmps:// URL")
        path = parts.path.strip("/")
        app, _, stream = path.rpartition("/")
        if not app or not stream:
            raise ValueError(
                "an RTMP URL needs an application and a stream key: rtmp://host/app/key"
            )
        stream += f"?{parts.query}" if parts.query else ""
        port = parts.port or (443 if parts.scheme == "rtmps" else 1935)
        return cls(parts.scheme, parts.hostname, port, app, stream)

    @property
    def tc_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/{self.app}"

    @property
    def redacted(self) -> str:
        """What logs, metrics and status may show."""
        return f"{self.tc_url}/****"

    def __repr__(self) -> str:
        return f"RtmpUrl({self.redacted})"

    __str__ = __repr__


def chunk(
    csid: int,
    timestamp: int,
    msg_type: int,
    stream_id: int,
    payload: bytes,
    size: int = OUT_CHUNK_SIZE,
) -> bytes:
    """One message as RTMP chunks: a type-0 header, then type-3 continuations."""
    extended = timestamp >= 0xFFFFFF
    ts_field = 0xFFFFFF if extended else timestamp
    ext = struct.pack(">I", timestamp & 0xFFFFFFFF) if extended else b""
    out = [
        bytes([csid])
        + ts_field.to_bytes(3)
        + len(payload).to_bytes(3)
        + bytes([msg_type])
        + struct.pack("<I", stream_id)
        + ext
    ]
    for offset in range(0, max(len(payload), 1), size):
        if offset:
            out.append(bytes([0xC0 | csid]) + ext)
        out.append(payload[offset : offset + size])
    return b"".join(out)


@dataclass
class _InChunkStream:
    timestamp: int = 0
    length: int = 0
    msg_type: int = 0
    stream_id: int = 0
    extended: bool = False
    body: bytearray = field(default_factory=bytearray)


class ChunkReader:
    """Reassembles the server's messages from its chunk stream."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.chunk_size = 128
        self.bytes_read = 0
        self._streams: dict[int, _InChunkStream] = {}

    async def _read(self, n: int) -> bytes:
        data = await self._reader.readexactly(n)
        self.bytes_read += n
        return data

    async def message(self) -> tuple[int, int, bytes]:
        """The next whole message: (type, stream id, payload)."""
        while True:
            first = (await self._read(1))[0]
            fmt, csid = first >> 6, first & 0x3F
            if csid == 0:
                csid = 64 + (await self._read(1))[0]
            elif csid == 1:
                low, high = await self._read(2)
                csid = 64 + low + 256 * high
            cs = self._streams.setdefault(csid, _InChunkStream())
            if fmt < 3:
                header = await self._read((11, 7, 3)[fmt])
                ts = int.from_bytes(header[0:3])
                if fmt <= 1:
                    cs.length, cs.msg_type = int.from_bytes(header[3:6]), header[6]
                if fmt == 0:
                    cs.stream_id = struct.unpack("<I", header[7:11])[0]
                cs.extended = ts == 0xFFFFFF
                if cs.extended:
                    ts = int.from_bytes(await self._read(4))
                cs.timestamp = ts if fmt == 0 else cs.timestamp + ts
            elif cs.extended:
                await self._read(4)
            need = min(self.chunk_size, cs.length - len(cs.body))
            cs.body += await self._read(need)
            if len(cs.body) >= cs.length:
                payload, cs.body = bytes(cs.body), bytearray()
                if cs.msg_type == SET_CHUNK_SIZE:
                    self.chunk_size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
                return cs.msg_type, cs.stream_id, payload


def _command(name: str, txn: float, *args: Any) -> bytes:
    return b"".join(amf.encode(v) for v in (name, txn, *args))


class RtmpPublisher:
    """One publishing connection. `connect()` raises PublishRejected or RtmpError."""

    def __init__(
        self, url: RtmpUrl, wedge_seconds: float = 10.0, ca_file: str | None = None
    ) -> None:
        self.url = url
        self.ca_file = ca_file  # rtmps://: trust this CA too (default: the system's only)
        self.wedge_seconds = wedge_seconds
        self.bytes_written = 0
        self.last_progress = time.monotonic()
        self._writer: asyncio.StreamWriter | None = None
        self._chunks: ChunkReader | None = None
        self._stream_id = 0
        self._window = 2_500_000
        self._acked = 0
        self._reader_task: asyncio.Task[None] | None = None
        self._publish_sent = False
        self._taken = 0  # bytes the peer has acknowledged, as far as we can tell
        self.broken: str | None = None

    async def connect(self, within_seconds: float = 10.0) -> None:
        """Handshake, connect, createStream, publish. Only the server's own refusal of the
        publish is PublishRejected; everything else (unreachable, a cut at any step, a
        malformed message) is a connection failure, worth another try."""
        try:
            await asyncio.wait_for(self._connect(), within_seconds)
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise RtmpError(f"cannot reach {self.url.redacted}: {exc or 'timed out'}") from None
        except asyncio.IncompleteReadError:
            await self.close()
            if self._publish_sent:
                raise ClosedOnPublish(
                    f"{self.url.redacted} closed the connection when asked to publish"
                ) from None
            raise RtmpError(f"{self.url.redacted} closed the connection while connecting") from None
        except RtmpError:
            await self.close()
            raise
        except Exception as exc:  # our parser on a malformed message: the server's fault
            await self.close()
            raise RtmpError(
                f"{self.url.redacted} sent a malformed message ({type(exc).__name__})"
            ) from None
        self._reader_task = asyncio.create_task(self._read_forever(), name="rtmp-reader")

    async def _connect(self) -> None:
        context = None
        if self.url.scheme == "rtmps":
            context = ssl.create_default_context()
            if self.ca_file:
                context.load_verify_locations(self.ca_file)
        reader, self._writer = await asyncio.open_connection(
            self.url.host,
            self.url.port,
            ssl=context,
            server_hostname=self.url.host if context else None,
        )
        _small_send_buffer(self._writer)
        self._chunks = ChunkReader(reader)
        c1 = struct.pack(">II", 0, 0) + os.urandom(HANDSHAKE_SIZE - 8)
        self._writer.write(b"\x03" + c1)
        s0s1 = await reader.readexactly(1 + HANDSHAKE_SIZE)
        self._writer.write(s0s1[1:])  # C2 echoes S1
        await reader.readexactly(HANDSHAKE_SIZE)  # S2
        self._send(CS_CONTROL, SET_CHUNK_SIZE, 0, struct.pack(">I", OUT_CHUNK_SIZE))
        self._send(
            CS_COMMAND,
            COMMAND,
            0,
            _command(
                "connect",
                1,
                {
                    "app": self.url.app,
                    "type": "nonprivate",
                    "flashVer": "FMLE/3.0 (compatible; spacecast)",
                    "tcUrl": self.url.tc_url,
                },
            ),
        )
        await self._await_result(1)
        key = self.url.stream
        self._send(CS_COMMAND, COMMAND, 0, _command("releaseStream", 2, None, key))
        self._send(CS_COMMAND, COMMAND, 0, _command("FCPublish", 3, None, key))
        self._send(CS_COMMAND, COMMAND, 0, _command("createStream", 4, None))
        result = await self._await_result(4)
        self._stream_id = int(result[3]) if len(result) > 3 and isinstance(result[3], float) else 1
        self._send(CS_COMMAND, COMMAND, self._stream_id, _command("publish", 5, None, key, "live"))
        self._publish_sent = True
        await self._await_publish_start()

    def _send(
        self, csid: int, msg_type: int, stream_id: int, payload: bytes, timestamp: int = 0
    ) -> None:
        assert self._writer is not None
        data = chunk(csid, timestamp, msg_type, stream_id, payload)
        self._writer.write(data)
        self.bytes_written += len(data)

    async def _next_command(self) -> list[Any]:
        """Read messages, answering control ones, until a command arrives."""
        assert self._chunks is not None
        while True:
            msg_type, _, payload = await self._chunks.message()
            if msg_type == COMMAND:
                return amf.decode_all(payload)
            self._on_control(msg_type, payload)

    def _said(self, command: list[Any]) -> str:
        return _describe(command, self.url.stream)

    async def _await_result(self, txn: int) -> list[Any]:
        """The answer to connect or createStream; an `_error` there is not about the key."""
        while True:
            command = await self._next_command()
            name = command[0] if command else None
            if name == "_error" and len(command) > 1 and command[1] == txn:
                raise RtmpError(f"{self.url.redacted} answered an error: {self._said(command)}")
            if name == "_result" and len(command) > 1 and command[1] == txn:
                return command

    async def _await_publish_start(self) -> None:
        while True:
            command = await self._next_command()
            if command and command[0] == "onStatus":
                info = _info(command)
                code, level = str(info.get("code", "")), str(info.get("level", ""))
                if code == "NetStream.Publish.Start":
                    return
                if code.startswith("NetStream.Publish.") and level == "error":
                    raise PublishRejected(
                        f"{self.url.redacted} refused to publish: {self._said(command)}"
                    )
                if level == "error":
                    raise RtmpError(f"{self.url.redacted} failed: {self._said(command)}")
            elif command and command[0] == "_error":
                raise PublishRejected(
                    f"{self.url.redacted} refused to publish: {self._said(command)}"
                )

    def _on_control(self, msg_type: int, payload: bytes) -> None:
        assert self._chunks is not None
        if msg_type == WINDOW_ACK_SIZE:
            self._window = struct.unpack(">I", payload[:4])[0]
        elif msg_type == SET_PEER_BANDWIDTH:
            self._send(CS_CONTROL, WINDOW_ACK_SIZE, 0, struct.pack(">I", self._window))
        elif msg_type == USER_CONTROL and struct.unpack(">H", payload[:2])[0] == PING_REQUEST:
            self._send(CS_CONTROL, USER_CONTROL, 0, struct.pack(">H", PING_RESPONSE) + payload[2:6])
        if self._chunks.bytes_read - self._acked >= self._window // 2:
            self._acked = self._chunks.bytes_read
            self._send(CS_CONTROL, ACK, 0, struct.pack(">I", self._acked & 0xFFFFFFFF))

    async def _read_forever(self) -> None:
        try:
            while True:
                command = await self._next_command()
                if command and command[0] == "onStatus" and _info(command).get("level") == "error":
                    self.broken = self._said(command)
                    break
        except (asyncio.IncompleteReadError, OSError) as exc:
            self.broken = f"connection lost ({type(exc).__name__})"
        except Exception as exc:  # a malformed message: the connection is no use any more
            self.broken = f"malformed message from the server ({type(exc).__name__})"
        if self._writer:
            self._writer.close()

    async def send(self, kind: int, timestamp: int, data: bytes) -> None:
        """Send one FLV tag's payload. Raises RtmpError when broken or wedged."""
        if self.broken or self._writer is None:
            raise RtmpError(self.broken or "not connected")
        payload = amf.encode("@setDataFrame") + data if kind == DATA else data
        self._send(CHUNK_STREAM[kind], kind, self._stream_id, payload, timestamp)
        try:
            await asyncio.wait_for(self._writer.drain(), self.wedge_seconds)
        except TimeoutError:
            blocked = f"wedged: nothing could be written for {self.wedge_seconds:.0f} s"
            raise Stale(blocked) from None
        except (OSError, RuntimeError) as exc:
            raise RtmpError(f"connection lost ({exc})") from None
        if (stuck := self._unacknowledged_for()) > self.wedge_seconds:
            raise Stale(f"wedged: the server acknowledged nothing for {stuck:.0f} s")

    def _unacknowledged_for(self) -> float:
        """Seconds since the peer last acknowledged bytes while some were waiting on it.

        Liveness from bytes actually moving, not from writes that return: the kernel takes
        writes into its send buffer long after the peer stopped reading (and at a quiet cast's
        150 kbit/s even a small buffer is many seconds of media). What was written minus what
        still waits (asyncio's buffer and the socket's unacknowledged bytes, SIOCOUTQ) is what
        the peer took; it must keep growing while anything waits.
        """
        assert self._writer is not None
        waiting = self._writer.transport.get_write_buffer_size() + _unacked(self._writer)
        taken, now = self.bytes_written - waiting, time.monotonic()
        if waiting == 0 or taken > self._taken:
            self._taken, self.last_progress = max(self._taken, taken), now
        return now - self.last_progress

    def abandon(self) -> None:
        """Drop the connection with a reset and without a word: the media still queued in it
        (up to the send buffer's worth) must not reach the ingest late, when the path heals,
        as a replay of old news ahead of the next connection's live media. A reset, not a
        close, also frees the stream key at once wherever the server can hear it."""
        if self._writer is not None:
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):  # linger 0: close() sends RST, drops the queue
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._writer.transport.abort()
            self._writer = None

    async def close(self) -> None:
        if self._reader_task:
            self._reader_task.cancel()
        if self._writer is not None:
            if not self._writer.is_closing() and self._stream_id:
                try:
                    self._send(
                        CS_COMMAND, COMMAND, 0, _command("FCUnpublish", 6, None, self.url.stream)
                    )
                    self._send(
                        CS_COMMAND,
                        COMMAND,
                        0,
                        _command("deleteStream", 7, None, float(self._stream_id)),
                    )
                    await asyncio.wait_for(self._writer.drain(), 2)
                except (OSError, TimeoutError, RuntimeError):
                    pass
            self._writer.close()
            self._writer = None


# The kernel's send buffer grows to megabytes (tcp_wmem), which at a cast's 1.5-3 Mbit/s hides a
# peer that stopped reading for tens of seconds before a write ever blocks. A second or so of
# media is enough to ride out jitter, and a wedge then shows within --wedge-seconds of it.
SEND_BUFFER = 256 * 1024


def _unacked(writer: asyncio.StreamWriter) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (SIOCOUTQ; for TLS
    these are ciphertext, a little more than what was written: close enough to see motion)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0])
    except OSError:
        return 0


def _small_send_buffer(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


def _info(command: list[Any]) -> dict[str, Any]:
    return next((v for v in command[2:] if isinstance(v, dict)), {})


def _describe(command: list[Any], key: str = "") -> str:
    """The server's words about a status, made safe to log: a server may quote the stream key
    back (it is masked), and may send anything (control characters go, length is capped)."""
    info = _info(command)
    text = str(info.get("description") or info.get("code") or command[0])
    if key:
        text = text.replace(key, "****")
    return "".join(c if c.isprintable() else " " for c in text)[:200]
