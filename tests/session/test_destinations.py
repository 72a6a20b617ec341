"""The fan-out's per-connection logic, with a recording stand-in for the RTMP connection."""

from __future__ import annotations

import asyncio

from spacecast.session.destinations import DestState, FanOut
from spacecast.session.flv import AUDIO, SCRIPT, VIDEO, Tag
from spacecast.session.rtmp import RtmpError, RtmpUrl

KEY_FRAME, INTER_FRAME = b"\x17\x01", b"\x27\x01"
VIDEO_HEADER, AUDIO_HEADER, AUDIO_FRAME = b"\x17\x00", b"\xaf\x00", b"\xaf\x01"


class Recorder:
    """Stands in for RtmpPublisher: remembers what was sent, can fail on demand."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[int, int, bytes]] = []
        self.bytes_written = 0
        self.fail_after = fail_after

    async def send(self, kind: int, timestamp: int, data: bytes) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise RtmpError("dropped")
        self.sent.append((kind, timestamp, data))
        self.bytes_written += len(data)


def stream(fanout: FanOut, start_ms: int, frames: int) -> None:
    fanout.new_stream()
    fanout.feed(Tag(SCRIPT, 0, b"meta"))
    fanout.feed(Tag(VIDEO, 0, VIDEO_HEADER))
    fanout.feed(Tag(AUDIO, 0, AUDIO_HEADER))
    for i in range(frames):
        ts = start_ms + 33 * i
        fanout.feed(Tag(VIDEO, ts, KEY_FRAME if i % 10 == 0 else INTER_FRAME))
        fanout.feed(Tag(AUDIO, ts + 1, AUDIO_FRAME))


async def published(fanout: FanOut, recorder: Recorder, *streams: tuple[int, int]) -> None:
    """Run the destination's publishing loop, feed it `streams` (start ms, frames), and return
    once it has taken everything (or stopped by itself)."""
    destination = fanout.destinations[0]
    task = asyncio.create_task(destination._publish(recorder))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # it clears its queue and starts publishing
    for start_ms, frames in streams:
        stream(fanout, start_ms, frames)
    taken = asyncio.create_task(destination.queue.join())
    await asyncio.wait([taken, task], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    taken.cancel()
    task.cancel()


def fanout() -> FanOut:
    return FanOut([RtmpUrl.parse("rtmp://h/app/key")], 30, 10)


async def test_a_connection_starts_with_headers_then_a_keyframe_at_time_zero() -> None:
    recorder = Recorder()
    await published(fanout(), recorder, (5000, 5))  # starts on a keyframe at 5000 ms
    assert [d for _, _, d in recorder.sent[:3]] == [b"meta", VIDEO_HEADER, AUDIO_HEADER]
    assert recorder.sent[3] == (VIDEO, 0, KEY_FRAME)
    stamps = [ts for _, ts, _ in recorder.sent[3:]]
    assert stamps == sorted(stamps) and stamps[-1] == 33 * 4 + 1


async def test_an_encoder_restart_continues_the_timeline_from_the_next_keyframe() -> None:
    recorder = Recorder()
    await published(fanout(), recorder, (0, 12), (0, 12))  # the new encoder counts from zero
    headers = (b"meta", VIDEO_HEADER, AUDIO_HEADER)
    stamps = [ts for _, ts, data in recorder.sent if data not in headers]
    assert stamps == sorted(stamps)  # never backwards, across the restart
    assert sum(data == VIDEO_HEADER for _, _, data in recorder.sent) == 2


async def test_a_failed_send_means_reconnecting() -> None:
    fan = fanout()
    await published(fan, Recorder(fail_after=4), (0, 3))
    destination = fan.destinations[0]
    assert destination.state is DestState.RECONNECTING and destination.error == "dropped"
