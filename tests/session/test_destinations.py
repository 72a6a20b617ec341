"""The fan-out's per-connection logic, with a recording stand-in for the RTMP connection."""

from __future__ import annotations

import asyncio

from spacecast.session.destinations import Destination, DestState, FanOut
from spacecast.session.flv import AUDIO, SCRIPT, VIDEO, Tag
from spacecast.session.rtmp import RtmpError, RtmpUrl

from .rtmp_faults import FaultyIngest

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


def stream(fanout: FanOut, start_ms: int, frames: int, first_key: int = 0) -> None:
    """An encoder run: headers, then `frames` video frames (a keyframe every 10th from
    `first_key` on, inter frames before it), each followed by an audio frame 1 ms later."""
    fanout.new_stream()
    fanout.feed(Tag(SCRIPT, 0, b"meta"))
    fanout.feed(Tag(VIDEO, 0, VIDEO_HEADER))
    fanout.feed(Tag(AUDIO, 0, AUDIO_HEADER))
    for i in range(frames):
        ts = start_ms + 33 * i
        key = i >= first_key and (i - first_key) % 10 == 0
        fanout.feed(Tag(VIDEO, ts, KEY_FRAME if key else INTER_FRAME))
        fanout.feed(Tag(AUDIO, ts + 1, AUDIO_FRAME))


async def published(fanout: FanOut, recorder: Recorder, *streams: tuple[int, ...]) -> None:
    """Run the destination's publishing loop, feed it `streams` (stream()'s arguments), and
    return once it has taken everything (or stopped by itself)."""
    destination = fanout.destinations[0]
    task = asyncio.create_task(destination._publish(recorder))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # it clears its queue and starts publishing
    for args in streams:
        stream(fanout, *args)
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
    """The new encoder counts from zero and opens on 3 inter frames: those are dropped, and its
    first keyframe goes out 1 ms after the last tag of the run before."""
    recorder = Recorder()
    await published(fanout(), recorder, (0, 12), (0, 12, 3))
    headers = (b"meta", VIDEO_HEADER, AUDIO_HEADER)
    media = [(kind, ts) for kind, ts, data in recorder.sent if data not in headers]
    first = [tag for i in range(12) for tag in ((VIDEO, 33 * i), (AUDIO, 33 * i + 1))]
    last_out = 33 * 11 + 1
    second = [
        tag
        for i in range(9)
        for tag in ((VIDEO, last_out + 1 + 33 * i), (AUDIO, last_out + 2 + 33 * i))
    ]
    assert media == first + second
    assert recorder.sent[len(first) + 3 :][:4] == [
        (SCRIPT, last_out, b"meta"), (VIDEO, last_out, VIDEO_HEADER),
        (AUDIO, last_out, AUDIO_HEADER), (VIDEO, last_out + 1, KEY_FRAME),
    ]  # fmt: skip


async def test_a_failed_send_means_reconnecting() -> None:
    fan = fanout()
    await published(fan, Recorder(fail_after=4), (0, 3))
    destination = fan.destinations[0]
    assert destination.state is DestState.RECONNECTING and destination.error == "dropped"


async def encode(out: FanOut, padding: int = 0) -> None:
    """Feed `out` as an encoder would, 30 frames a second (a keyframe every 10th), each
    `padding` bytes larger than a bare frame, until cancelled."""
    ts = 0
    out.new_stream()
    while True:
        out.feed(Tag(VIDEO, ts, (KEY_FRAME if ts % 330 == 0 else INTER_FRAME) + bytes(padding)))
        ts += 33
        await asyncio.sleep(0.033)


async def _run_against(ingest: FaultyIngest, window_s: float) -> Destination:
    """Run one destination against `ingest`, fed media as an encoder would, until it gives
    up (rejected or failed) or 20 s pass."""
    port = await ingest.start()
    out = FanOut([RtmpUrl.parse(f"rtmp://127.0.0.1:{port}/app/key")], window_s, 10)
    destination = out.destinations[0]

    feeding = asyncio.create_task(encode(out))
    try:
        await asyncio.wait_for(destination.run(), 20)
    finally:
        feeding.cancel()
        await ingest.stop()
    return destination


async def test_closed_on_publish_twice_is_a_rejection() -> None:
    ingest = FaultyIngest("close-on-publish")
    destination = await _run_against(ingest, window_s=30)
    assert destination.state is DestState.REJECTED and ingest.connections == 2


async def test_a_cut_handshake_is_retried_until_the_window_ends() -> None:
    ingest = FaultyIngest("cut-handshake")
    destination = await _run_against(ingest, window_s=2)
    assert destination.state is DestState.FAILED and ingest.connections >= 2


async def test_a_flapping_ingest_runs_out_its_window() -> None:
    """Up for 0.3 s at a time, never long enough to count as healthy: the window measures
    from the first drop, so it ends in FAILED (it used to reconnect forever)."""
    ingest = FaultyIngest("accept", hold_s=0.3)
    destination = await _run_against(ingest, window_s=2)
    assert destination.state is DestState.FAILED
    assert ingest.published >= 2 and destination.reconnects >= 2


async def test_a_wedged_connection_is_dropped_with_what_it_still_held() -> None:
    """The server stops reading (a wedge), the destination moves to a new connection; when
    the old one's server reads again, nothing beyond what the server itself had taken in
    arrives: the media queued on our side was thrown away, not replayed late."""
    ingest = FaultyIngest("stall-first")
    port = await ingest.start()
    out = FanOut([RtmpUrl.parse(f"rtmp://127.0.0.1:{port}/app/key")], 30, wedge_seconds=1)
    destination = out.destinations[0]

    # About 600 kB/s: the send queue fills within the wedge time.
    tasks = [asyncio.create_task(encode(out, padding=20_000)),
             asyncio.create_task(destination.run())]  # fmt: skip
    try:
        async with asyncio.timeout(20):
            await ingest.republished.wait()  # the wedge found, and a new connection
            ingest.resume.set()
            await ingest.counted.wait()
    finally:
        for task in tasks:
            task.cancel()
        await ingest.stop()
    assert destination.reconnects >= 1
    assert 0 < ingest.holds_at_most < 200_000  # a known, small buffer on the server's side
    assert ingest.after_resume <= ingest.holds_at_most
