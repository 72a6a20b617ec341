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


def test_audio_dir_is_refused_for_a_camera_stream() -> None:
    with pytest.raises(playlists.NotAnAudioSpace):
        playlists.audio_dir(f"{ROOT}/non_transcode/r/d/master_dynamic_1.m3u8?type=replay")


CAM = f"{ROOT}/non_transcode/us-east-1/{DEPLOY}/"
CAM_TR = f"{ROOT}/transcode/us-east-1/{DEPLOY}/eyJ.eyJ720.sig/"


@pytest.mark.parametrize(
    ("location", "master"),
    [
        (CAM + "master_dynamic_playlist.m3u8?type=live", CAM + "master_master_playlist.m3u8"),
        (CAM + "master_dynamic_123.m3u8?type=replay", CAM + "master_dynamic_123.m3u8?type=replay"),
        (CAM_TR + "dynamic_playlist.m3u8?type=live", CAM + "master_master_playlist.m3u8"),
        (CAM_TR + "playlist_123.m3u8?type=replay", CAM + "master_master_playlist.m3u8"),
    ],
)
def test_camera_master(location: str, master: str) -> None:
    assert playlists.is_camera(location)
    assert playlists.master_url(location) == master


LADDER = (
    "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=1200000,RESOLUTION=854x480,CODECS="avc1.4d401f,mp4a.40.2"\n'
    "/Transcoding/v1/hls/TOKEN/transcode/r/d/J480/playlist_1.m3u8?type=replay\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=2750000,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2"\n'
    "/Transcoding/v1/hls/TOKEN/transcode/r/d/J720/playlist_1.m3u8?type=replay\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=426x240,CODECS="avc1.4d401f,mp4a.40.2"\n'
    "/Transcoding/v1/hls/TOKEN/transcode/r/d/J240/playlist_1.m3u8?type=replay\n"
)


@pytest.mark.parametrize(
    ("wanted", "directory"),
    [("best", "J720"), ("worst", "J240"), ("480", "J480"), ("240p", "J240")],
)
def test_camera_rendition_is_chosen_whatever_the_order(wanted: str, directory: str) -> None:
    master = CAM + "master_dynamic_1.m3u8?type=replay"
    url = playlists.chunk_list_url(master, LADDER, wanted)
    assert url == f"{ROOT}/transcode/r/d/{directory}/playlist_1.m3u8?type=replay"


def test_a_missing_rendition_names_those_there_are() -> None:
    with pytest.raises(playlists.NoSuchRendition, match=r"no 1080p .*720p, 480p, 240p"):
        playlists.chunk_list_url(CAM + "master_master_playlist.m3u8", LADDER, "1080")


def test_camera_segments_resolve_in_their_rendition_directory() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3.000,\nchunk_1720190996360000000_7_v.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    listing = playlists.parse_chunk_list(text, CAM_TR + "playlist_1.m3u8?type=replay")
    assert [(c.seq, c.url) for c in listing.chunks] == [
        (7, CAM_TR + "chunk_1720190996360000000_7_v.ts")
    ]
