from __future__ import annotations

import asyncio

import pytest

from spacecast.session import amf
from spacecast.session.rtmp import ChunkReader, RtmpUrl, chunk


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
