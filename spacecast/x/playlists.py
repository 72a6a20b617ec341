"""From a status location to chunks (x-spaces.md 2.2-2.5), as pure functions over URLs and text.

- the live `dynamic_playlist.m3u8?type=live` or replay `playlist_<id>.m3u8?type=replay` sits in
  the `non_transcode/.../audio-space/` directory, beside `master_playlist.m3u8`;
- the master's last variant is an absolute path to the "true master" chunk list, under a
  `transcode/.../<JWT>/audio-space/` directory;
- chunk names resolve against the `non_transcode` directory (under `transcode/` X answers 400);
- a chunk's sequence number is the `_<seq>_` in its name, the HLS media sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import m3u8

from spacecast.errors import ExitCode
from spacecast.x.errors import XError

AUDIO_SPACE = "/audio-space/"
CHUNK_SEQ_RE = re.compile(r"chunk_\d+_(\d+)_a\.aac")
TRANSCODE_RE = re.compile(r"/transcode/(?P<region>[^/]+)/(?P<deploy>[^/]+)/[^/]+/audio-space/")


class NotAnAudioSpace(XError):
    def __init__(self, url: str) -> None:
        path = urlsplit(url).path
        super().__init__(
            f"not an audio Space stream (camera Spaces are not supported): {path}",
            ExitCode.MEDIA_UNAVAILABLE,
        )


@dataclass(frozen=True)
class ChunkRef:
    seq: int
    url: str
    duration: float  # EXTINF, seconds


@dataclass(frozen=True)
class ChunkList:
    chunks: tuple[ChunkRef, ...]
    ended: bool  # has #EXT-X-ENDLIST
    target_duration: float


def strip_redirector(url: str) -> str:
    """`.../authorized_status/...?url=<real>` -> `<real>` (seen for broadcasts)."""
    if "/authorized_status/" in url:
        real = parse_qs(urlsplit(url).query).get("url")
        if real:
            return real[0]
    return url


def audio_dir(url: str) -> str:
    """The `non_transcode/.../audio-space/` directory URL that chunk names resolve against."""
    parts = urlsplit(strip_redirector(url))
    path = TRANSCODE_RE.sub(r"/non_transcode/\g<region>/\g<deploy>/audio-space/", parts.path)
    if AUDIO_SPACE not in path:
        raise NotAnAudioSpace(url)
    directory = path[: path.index(AUDIO_SPACE) + len(AUDIO_SPACE)]
    return urlunsplit((parts.scheme, parts.netloc, directory, "", ""))


def master_url(location: str) -> str:
    """The master playlist beside a dynamic or replay playlist."""
    return audio_dir(location) + "master_playlist.m3u8"


def chunk_list_url(master: str, text: str) -> str:
    """The master's last variant (the newest chunk list), as an absolute URL."""
    variants = m3u8.loads(text).playlists
    if not variants:
        raise XError(f"master playlist without a variant: {urlsplit(master).path}")
    return urljoin(master, str(variants[-1].uri))


def sequence_of(uri: str) -> int | None:
    match = CHUNK_SEQ_RE.search(uri)
    return int(match[1]) if match else None


def parse_chunk_list(text: str, list_url: str) -> ChunkList:
    """Chunks of a chunk list or live playlist, their URLs on the non_transcode path."""
    playlist = m3u8.loads(text)
    base = audio_dir(list_url)
    chunks = []
    for index, segment in enumerate(playlist.segments):
        seq = sequence_of(segment.uri)
        if seq is None:  # a name without a sequence: fall back on the media sequence
            seq = (playlist.media_sequence or 0) + index
        chunks.append(ChunkRef(seq, urljoin(base, segment.uri), float(segment.duration or 0)))
    return ChunkList(tuple(chunks), bool(playlist.is_endlist), float(playlist.target_duration or 4))
