"""Every playlist the simulator serves parses with m3u8 and has X's documented shape."""

from __future__ import annotations

import m3u8
import pytest

from simulator.server import Simulator

from .conftest import client, space_of


def test_live_dynamic_playlist(sim: Simulator) -> None:
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        text = http.get(live["dynamic"]).text
    pl = m3u8.loads(text)
    assert not pl.is_endlist and pl.version == 6 and pl.target_duration == 4
    assert len(pl.segments) == 4
    assert pl.media_sequence == int(pl.segments[0].uri.split("_")[2])
    assert all(s.uri.endswith("_a.aac?type=live") and s.program_date_time for s in pl.segments)
    assert "#EXT-X-START:TIME-OFFSET=0.01" in text and "#EXT-X-DISCONTINUITY-SEQUENCE:0" in text


def test_master_and_true_master(sim: Simulator) -> None:
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        master_text = http.get(live["master"]).text
        lines = master_text.split("\n")
        assert len(lines) == 5 and lines[-1] == ""  # four lines and a trailing newline
        master = m3u8.loads(master_text)
        assert master.is_variant and len(master.playlists) == 1
        variant = lines[3]
        assert variant.startswith("/Transcoding/v1/hls/") and "/transcode/" in variant
        chunk_list = m3u8.loads(http.get(variant).text)
    assert chunk_list.is_endlist and chunk_list.playlist_type == "vod"
    assert [s.uri.split("_")[2] for s in chunk_list.segments][:3] == ["0", "1", "2"]
    assert all(s.uri.startswith("chunk_") and "?" not in s.uri for s in chunk_list.segments)
    assert all(len(str(s.duration).split(".")[-1]) <= 3 for s in chunk_list.segments)


def test_replay_and_chunk_urls_resolve(sim: Simulator) -> None:
    ended = space_of(sim, "audio", "Ended")
    with client(sim) as http:
        master = m3u8.loads(http.get(ended["master"]).text)
        chunk_list_url = sim.https_url + master.playlists[0].uri
        chunk_list = m3u8.loads(http.get(chunk_list_url).text)
        base = ended["master"].rsplit("/", 1)[0]
        first = http.get(f"{base}/{chunk_list.segments[0].uri}")
        assert first.status_code == 200 and first.content[:3] == b"ID3"
        # The same name under the transcode path is refused, as on X.
        wrong = chunk_list_url.rsplit("/", 1)[0] + "/" + chunk_list.segments[0].uri
        assert http.get(wrong).status_code == 400
    assert sum(s.duration for s in chunk_list.segments) == pytest.approx(600, abs=3.1)


def test_camera_space_has_three_renditions(sim: Simulator) -> None:
    cam = space_of(sim, "camera", "Running")
    assert "/audio-space/" not in cam["master"]
    with client(sim) as http:
        master = m3u8.loads(http.get(cam["master"]).text)
        heights = [p.stream_info.resolution[1] for p in master.playlists]
        assert heights == [720, 480, 240]
        rendition = m3u8.loads(http.get(master.playlists[0].uri).text)
        seg = http.get(master.playlists[0].uri.rsplit("/", 1)[0] + "/" + rendition.segments[-1].uri)
    assert seg.status_code == 200 and seg.content[0] == 0x47  # MPEG-TS
