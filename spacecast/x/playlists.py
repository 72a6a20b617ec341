"""From a status location to chunks (x-spaces.md 2.2-2.5), as pure functions over URLs and text.

Audio Spaces:
- the live `dynamic_playlist.m3u8?type=live` or replay `playlist_<id>.m3u8?type=replay` sits in
  the `non_transcode/.../audio-space/` directory, beside `master_playlist.m3u8`;
- the master's last variant is an absolute path to the "true master" chunk list, under a
  `transcode/.../<JWT>/audio-space/` directory;
- chunk names resolve against the `non_transcode` directory (under `transcode/` X answers 400).
Camera Spaces (a location without `/audio-space/`, yt-dlp's test too):
- the location is a master in the `non_transcode/<region>/<deploy>/` directory: live
  `master_dynamic_playlist.m3u8?type=live`, replay `master_dynamic_<id>.m3u8?type=replay`, and
  `master_master_playlist.m3u8` beside them, which names the live lists, then the replay's;
- its variants are a resolution ladder, each an absolute path to a chunk list under its own
  `transcode/.../<JWT>/` directory, where its `chunk_<ns>_<seq>_v.ts` segments are too.
A chunk's sequence number is the `_<seq>_` in its name, the HLS media sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import m3u8

from spacecast.errors import ExitCode
from spacecast.x.errors import XError

AUDIO_SPACE = "/audio-space/"
CHUNK_SEQ_RE = re.compile(r"chunk_\d+_(\d+)_(?:a\.aac|v\.ts)")
TRANSCODE_RE = re.compile(r"/transcode/(?P<region>[^/]+)/(?P<deploy>[^/]+)/[^/]+/audio-space/")
CAMERA_DIR_RE = re.compile(
    r"^(?P<root>.*)/(?:non_transcode|transcode)/(?P<region>[^/]+)/(?P<deploy>[^/]+)/"
)
REPLAY_MASTER_RE = re.compile(r"/master_dynamic_\d+\.m3u8$")
RENDITION_RE = re.compile(r"^(best|worst|[1-9][0-9]{1,3}p?)$")


class NotAnAudioSpace(XError):
    def __init__(self, url: str) -> None:
        path = urlsplit(url).path
        super().__init__(
            f"not an audio Space stream: {path}",
            ExitCode.MEDIA_UNAVAILABLE,
        )


class NoSuchRendition(XError):
    def __init__(self, wanted: str, heights: list[int]) -> None:
        have = ", ".join(f"{h}p" for h in heights) or "none"
        super().__init__(
            f"no {wanted.removesuffix('p')}p rendition in this Space (it has {have}); "
            "use --rendition best, worst or one of those",
            ExitCode.USAGE,
        )


@dataclass(frozen=True)
class Variant:
    url: str
    width: int
    height: int

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}" if self.height else ""


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


def is_camera(location: str) -> bool:
    return AUDIO_SPACE not in urlsplit(strip_redirector(location)).path


def audio_dir(url: str) -> str:
    """The `non_transcode/.../audio-space/` directory URL that chunk names resolve against."""
    parts = urlsplit(strip_redirector(url))
    path = TRANSCODE_RE.sub(r"/non_transcode/\g<region>/\g<deploy>/audio-space/", parts.path)
    if AUDIO_SPACE not in path:
        raise NotAnAudioSpace(url)
    directory = path[: path.index(AUDIO_SPACE) + len(AUDIO_SPACE)]
    return urlunsplit((parts.scheme, parts.netloc, directory, "", ""))


def _camera_master(url: str) -> str:
    parts = urlsplit(strip_redirector(url))
    if REPLAY_MASTER_RE.search(parts.path):
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    match = CAMERA_DIR_RE.match(parts.path)
    if match is None:
        raise XError(f"not a Space stream: {parts.path}", ExitCode.MEDIA_UNAVAILABLE)
    directory = f"{match['root']}/non_transcode/{match['region']}/{match['deploy']}/"
    return urlunsplit(
        (parts.scheme, parts.netloc, directory + "master_master_playlist.m3u8", "", "")
    )


def master_url(location: str) -> str:
    """The master beside a dynamic or replay playlist (a camera Space's replay master itself)."""
    if is_camera(location):
        return _camera_master(location)
    return audio_dir(location) + "master_playlist.m3u8"


def media_dir(list_url: str) -> str:
    """Where a chunk list's chunk names resolve: an audio Space's `non_transcode` directory, a
    camera Space's rendition directory."""
    if not is_camera(list_url):
        return audio_dir(list_url)
    return urljoin(strip_redirector(list_url), ".")


def variants(master: str, text: str) -> list[Variant]:
    found = []
    for variant in m3u8.loads(text).playlists:
        width, height = variant.stream_info.resolution or (0, 0)
        found.append(Variant(urljoin(master, str(variant.uri)), int(width), int(height)))
    if not found:
        raise XError(f"master playlist without a variant: {urlsplit(master).path}")
    return found


def choose(ladder: list[Variant], wanted: str) -> Variant:
    """`best` (the tallest, then widest), `worst`, or a height such as `480` or `480p`. A
    variant without a RESOLUTION (sound alone) is chosen only if there is nothing else."""
    pictures = [v for v in ladder if v.height] or ladder
    ranked = sorted(pictures, key=lambda v: (v.height, v.width))
    if wanted == "best":
        return ranked[-1]
    if wanted == "worst":
        return ranked[0]
    height = int(wanted.removesuffix("p"))
    match = [v for v in ranked if v.height == height]
    if not match:
        raise NoSuchRendition(wanted, sorted({v.height for v in pictures}, reverse=True))
    return match[-1]


def chunk_list_url(master: str, text: str, rendition: str = "best") -> str:
    """The chunk list to follow: an audio Space's last variant (the newest list), a camera
    Space's chosen rendition."""
    ladder = variants(master, text)
    return choose(ladder, rendition).url if is_camera(master) else ladder[-1].url


def sequence_of(uri: str) -> int | None:
    match = CHUNK_SEQ_RE.search(uri)
    return int(match[1]) if match else None


def parse_chunk_list(text: str, list_url: str) -> ChunkList:
    """Chunks of a chunk list or live playlist, with the URLs they are fetched from."""
    playlist = m3u8.loads(text)
    base = media_dir(list_url)
    chunks = []
    for index, segment in enumerate(playlist.segments):
        seq = sequence_of(segment.uri)
        if seq is None:  # a name without a sequence: fall back on the media sequence
            seq = (playlist.media_sequence or 0) + index
        chunks.append(ChunkRef(seq, urljoin(base, segment.uri), float(segment.duration or 0)))
    return ChunkList(tuple(chunks), bool(playlist.is_endlist), float(playlist.target_duration or 4))
