"""Fan-out of one encoded FLV stream to every RTMP destination, each isolated:

    CONNECTING -> PUBLISHING -> RECONNECTING -> PUBLISHING ...
         |                           |
         v                           v
      REJECTED (its publish         FAILED (no healthy stretch within the reconnect window)
      refused before it ever
      published: a bad key)

Rejected means the server refused the publish itself: an `_error` or an error-level
`NetStream.Publish.*` answer, or the connection closed right after our publish on two tries in
a row (nginx-rtmp's way). Anything else (unreachable, cut mid-handshake, a malformed message,
even a bug of ours) is a connection failure, retried with the shared backoff. The reconnect
window counts from the first failure since the destination last stayed up for a while
(`spacecast.backoff.Backoff`), so an ingest that accepts and drops every few seconds runs out
its window as surely as one that is down.

A destination that falls behind (its queue overflows) or stops accepting bytes (wedged) is
reconnected like one that dropped, and what it still holds is thrown away with it, never sent
late; the others never wait for it. After every (re)connect it gets
the stream's metadata and sequence headers first, then media from the next keyframe, with
timestamps rebased so each connection starts near zero and never goes backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from dataclasses import dataclass, field

from spacecast.backoff import Backoff, RetryPolicy
from spacecast.logs import get_logger
from spacecast.session import metrics
from spacecast.session.flv import Tag
from spacecast.session.rtmp import (
    ClosedOnPublish,
    PublishRejected,
    RtmpError,
    RtmpPublisher,
    RtmpUrl,
    Stale,
)

log = get_logger("session.destinations")
QUEUE_TAGS = 1500  # ~15 s of 30 fps video plus audio
RECONNECT_POLICY = RetryPolicy(base_s=0.5, max_s=8.0)


class DestState(enum.StrEnum):
    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    RECONNECTING = "reconnecting"
    REJECTED = "rejected"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass
class StreamHead:
    """What a new connection needs before media: metadata and sequence headers, per encoder run."""

    generation: int = 0
    metadata: Tag | None = None
    video_header: Tag | None = None
    audio_header: Tag | None = None

    def tags(self) -> list[Tag]:
        return [t for t in (self.metadata, self.video_header, self.audio_header) if t]


@dataclass
class Item:
    generation: int
    tag: Tag


@dataclass
class Destination:
    index: int
    url: RtmpUrl
    head: StreamHead
    reconnect_window: float
    wedge_seconds: float
    ca_file: str | None = None
    state: DestState = DestState.CONNECTING
    reconnects: int = 0
    error: str | None = None
    queue: asyncio.Queue[Item] = field(default_factory=lambda: asyncio.Queue(QUEUE_TAGS))
    ever_published: bool = False
    bytes_sent: int = 0
    _overflowed: bool = False

    def __post_init__(self) -> None:
        metrics.RECONNECTS.labels(destination=self.label)  # at 0 until the first: increase()

    @property
    def label(self) -> str:
        return str(self.index)

    def offer(self, item: Item) -> None:
        if self.state is not DestState.PUBLISHING:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._overflowed = True

    def _set(self, state: DestState, error: str | None = None) -> None:
        if state is not self.state:
            log.info(
                "destination state",
                destination=self.index,
                url=self.url.redacted,
                state=state.value,
                error=error,
            )
        self.state, self.error = state, error
        metrics.DESTINATION_UP.labels(destination=self.label).set(
            int(state is DestState.PUBLISHING)
        )

    async def run(self) -> None:
        backoff = Backoff(RECONNECT_POLICY)
        closed_on_publish = 0  # in a row
        while True:
            publisher = RtmpPublisher(self.url, self.wedge_seconds, self.ca_file)
            try:
                await publisher.connect()
            except PublishRejected as exc:
                if not self.ever_published:
                    return self._set(DestState.REJECTED, str(exc))
                self._note_failure(str(exc))
            except ClosedOnPublish as exc:
                closed_on_publish += 1
                if closed_on_publish >= 2 and not self.ever_published:
                    return self._set(DestState.REJECTED, f"{exc}, twice in a row")
                self._note_failure(str(exc))
            except RtmpError as exc:
                closed_on_publish = 0
                self._note_failure(str(exc))
            except Exception as exc:  # a bug of ours must not leave it "connecting" forever
                log.exception("destination connect crashed", destination=self.index)
                self._note_failure(f"internal error ({type(exc).__name__})")
            else:
                closed_on_publish = 0
                backoff.up()
                await self._publish(publisher)
            finally:
                await publisher.close()
            delay = backoff.down()
            if backoff.failing_for() > self.reconnect_window:
                return self._set(DestState.FAILED, self.error)
            await asyncio.sleep(delay)
            self.reconnects += 1
            metrics.RECONNECTS.labels(destination=self.label).inc()

    def _note_failure(self, error: str) -> None:
        self._set(DestState.RECONNECTING, error)

    async def _publish(self, publisher: RtmpPublisher) -> None:
        self.ever_published = True
        self._drain()
        self._set(DestState.PUBLISHING)
        counter = metrics.BYTES_SENT.labels(destination=self.label)
        sent = publisher.bytes_written
        generation, base, last_out = -1, 0, 0
        try:
            while True:
                item = await self.queue.get()
                self.queue.task_done()
                if self._overflowed:
                    raise Stale("fell behind the encoder")
                if item.generation != generation:
                    if not item.tag.is_keyframe:
                        continue  # a new connection or encoder run starts on a keyframe
                    generation = item.generation
                    base = item.tag.timestamp - (last_out + 1 if last_out else 0)
                    for head in self.head.tags():
                        await publisher.send(head.kind, max(0, last_out), head.data)
                last_out = max(last_out, item.tag.timestamp - base)
                await publisher.send(item.tag.kind, last_out, item.tag.data)
                counter.inc(publisher.bytes_written - sent)
                self.bytes_sent += publisher.bytes_written - sent
                sent = publisher.bytes_written
        except Stale as exc:
            publisher.abandon()
            self._set(DestState.RECONNECTING, str(exc))
        except RtmpError as exc:
            self._set(DestState.RECONNECTING, str(exc))
        except Exception as exc:  # a bug of ours: reconnect rather than die unseen
            log.exception("destination publish crashed", destination=self.index)
            self._set(DestState.RECONNECTING, f"internal error ({type(exc).__name__})")

    def _drain(self) -> None:
        self._overflowed = False
        while not self.queue.empty():
            self.queue.get_nowait()
            self.queue.task_done()

    def stop(self) -> None:
        self._set(DestState.STOPPED)


class FanOut:
    """Feeds every destination from the encoder's tags; knows the current stream head."""

    def __init__(
        self, urls: list[RtmpUrl], reconnect_window: float, wedge_seconds: float,
        ca_file: str | None = None,
    ) -> None:  # fmt: skip
        self.head = StreamHead()
        self.destinations = [
            Destination(i, url, self.head, reconnect_window, wedge_seconds, ca_file)
            for i, url in enumerate(urls)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(d.run(), name=f"destination-{d.index}") for d in self.destinations
        ]

    def new_stream(self) -> None:
        """The encoder (re)started: a fresh FLV stream with its own headers follows."""
        self.head.generation += 1
        self.head.metadata = self.head.video_header = self.head.audio_header = None

    def feed(self, tag: Tag) -> None:
        if tag.is_metadata:
            self.head.metadata = tag
        elif tag.is_sequence_header:
            if tag.kind == 9:
                self.head.video_header = tag
            else:
                self.head.audio_header = tag
        else:
            item = Item(self.head.generation, tag)
            for destination in self.destinations:
                destination.offer(item)

    @property
    def all_rejected(self) -> bool:
        return all(d.state is DestState.REJECTED for d in self.destinations)

    @property
    def all_down_for_good(self) -> bool:
        return all(d.state in (DestState.REJECTED, DestState.FAILED) for d in self.destinations)

    @property
    def publishing(self) -> int:
        return sum(d.state is DestState.PUBLISHING for d in self.destinations)

    async def drain(self, seconds: float) -> None:
        """Let queued media go out (the flush at the end of a Space)."""
        live = [d.queue.join() for d in self.destinations if d.state is DestState.PUBLISHING]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*live), seconds)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for destination in self.destinations:
            destination.stop()
