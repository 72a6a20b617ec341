from __future__ import annotations

import asyncio

import pytest

from spacecast.session import amf
from spacecast.session.rtmp import (
    ChunkReader,
    ClosedOnPublish,
    PublishRejected,
    RtmpError,
    RtmpPublisher,
    RtmpUrl,
    chunk,
)

from .rtmp_faults import FaultyIngest


def test_url_parsing_and_redaction() -> None:
    url = RtmpUrl.parse("rtmp://fr.pscp.tv:80/x/abc123SECRET")
    assert (url.host, url.port, url.app, url.stream) == ("fr.pscp.tv", 80, "x", "abc123SECRET")
    assert url.tc_url == "rtmp://fr.pscp.tv:80/x"
    assert "SECRET" not in url.redacted and "SECRET" not in repr(url) and "SECRET" not in str(url)
    assert RtmpUrl.parse("rtmps://live.example/app/inst/key?x=1").app == "app/inst"
    assert RtmpUrl.parse("rtmps://live.example/app/key").port == 443


@pytest.mark.parametrize("text", ["http://a/b/c", "rtmp://host/onlyapp", "rtmp:///app/key", "key"])
def test_bad_urls(text: str) -> None:
    with pytest.raises(ValueError):
        RtmpUrl.parse(text)


def test_amf_round_trip() -> None:
    values = ["connect", 1.0, {"app": "x", "n": 2.0, "ok": True, "none": None}, None]
    assert amf.decode_all(b"".join(amf.encode(v) for v in values)) == values


async def _read_back(data: bytes, chunk_size: int) -> tuple[int, int, bytes]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    chunks = ChunkReader(reader)
    chunks.chunk_size = chunk_size
    return await chunks.message()


@pytest.mark.parametrize("timestamp", [0, 1234, 0xFFFFFF + 5])
async def test_chunking_round_trips(timestamp: int) -> None:
    payload = bytes(range(256)) * 40  # spans several chunks
    data = chunk(6, timestamp, 9, 1, payload, size=4096)
    assert await _read_back(data, 4096) == (9, 1, payload)


@pytest.mark.parametrize(
    ("behaviour", "error", "says"),
    [
        ("cut-handshake", RtmpError, "closed the connection while connecting"),
        ("connect-error", RtmpError, "answered an error"),
        ("garbage", RtmpError, "malformed message"),
        ("close-on-publish", ClosedOnPublish, "closed the connection when asked to publish"),
        ("bad-name", PublishRejected, "refused to publish: stream **** is  [31mtaken"),
    ],
)
async def test_only_the_servers_word_on_the_publish_is_a_rejection(
    behaviour: str, error: type[RtmpError], says: str
) -> None:
    """Everything short of the server refusing the publish itself is a connection failure;
    what the server says is logged with the key masked and control characters gone."""
    ingest = FaultyIngest(behaviour)
    port = await ingest.start()
    publisher = RtmpPublisher(RtmpUrl.parse(f"rtmp://127.0.0.1:{port}/app/SECRETKEY"))
    try:
        with pytest.raises(RtmpError) as failed:
            await publisher.connect(within_seconds=5)
    finally:
        await publisher.close()
        await ingest.stop()
    assert type(failed.value) is error
    assert says in str(failed.value) and "SECRETKEY" not in str(failed.value)
    assert "\n" not in str(failed.value) and "\x1b" not in str(failed.value)


async def test_a_publish_accepted_connects() -> None:
    ingest = FaultyIngest("accept")
    port = await ingest.start()
    publisher = RtmpPublisher(RtmpUrl.parse(f"rtmp://127.0.0.1:{port}/app/key"))
    try:
        await publisher.connect(within_seconds=5)
        assert ingest.published == 1
    finally:
        await publisher.close()
        await ingest.stop()
