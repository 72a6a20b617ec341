from __future__ import annotations

import pytest

from spacecast.x import playlists

HOST = "https://prod-fastly-us-east-1.video.pscp.tv"
ROOT = f"{HOST}/Transcoding/v1/hls/TOKEN"
NT = f"{ROOT}/non_transcode/us-east-1/periscope-replay-direct-prod-us-east-1-public/audio-space/"
DEPLOY = "periscope-replay-direct-prod-us-east-1-public"
TR = f"{ROOT}/transcode/us-east-1/{DEPLOY}/eyJ.eyJ.sig/audio-space/"


@pytest.mark.parametrize(
    "location",
    [
        NT + "dynamic_playlist.m3u8?type=live",
        NT + "playlist_16761019244202992663.m3u8?type=replay",
        NT + "master_playlist.m3u8",
        TR + "playlist_16761019244202992663.m3u8",
        "https://twitter.com/i/live_video_stream/authorized_status/1/LIVE_PUBLIC/k?url="
        + NT.replace(":", "%3A").replace("/", "%2F")
        + "dynamic_playlist.m3u8",
    ],
)
def test_master_and_chunk_dir(location: str) -> None:
    assert playlists.audio_dir(location) == NT
    assert playlists.master_url(location) == NT + "master_playlist.m3u8"


def test_chunk_list_from_master_takes_the_last_variant() -> None:
    path = TR.removeprefix(HOST)
    master = (
        "#EXTM3U\n#EXT-X-DYNAMICALLY-GENERATED\n"
        '#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=500000,CODECS="avc1.640015,mp4a.40.2"\n'
        f"{path}playlist_1.m3u8\n"
        '#EXT-X-STREAM-INF:PROGRAM-ID=1,BANDWIDTH=500000,CODECS="avc1.640015,mp4a.40.2"\n'
        f"{path}playlist_2.m3u8\n"
    )
    url = playlists.chunk_list_url(NT + "master_playlist.m3u8", master)
    assert url == TR + "playlist_2.m3u8"


def test_chunk_list_resolves_chunks_on_the_non_transcode_path() -> None:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:3.008,\nchunk_1720190996360000000_0_a.aac\n"
        "#EXTINF:2.987,\nchunk_1720190999450261528_1_a.aac\n#EXT-X-ENDLIST\n"
    )
    listing = playlists.parse_chunk_list(text, TR + "playlist_2.m3u8")
    assert listing.ended
    assert [(c.seq, c.duration) for c in listing.chunks] == [(0, 3.008), (1, 2.987)]
    assert listing.chunks[1].url == NT + "chunk_1720190999450261528_1_a.aac"


def test_not_an_audio_space() -> None:
    with pytest.raises(playlists.NotAnAudioSpace):
        playlists.master_url(f"{ROOT}/non_transcode/r/d/master_dynamic_1.m3u8?type=replay")
