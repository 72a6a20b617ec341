"""A camera Space's renditions carry real H.264 pictures in the master's three sizes, with the
rendition's audio, every segment cut at a keyframe and stamped where the timeline says."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import m3u8
import pytest

from simulator import video
from simulator.camera import video_pts
from simulator.server import Simulator

from .conftest import client, space_of


def probe(path: Path) -> dict[str, dict[str, object]]:
    """Per codec: size, frames counted by decoding, first PTS, and the first frame's type."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames,start_pts", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    first = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-read_intervals", "%+#1",
         "-show_entries", "frame=pict_type", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    streams = {s["codec_name"]: s for s in json.loads(out)["streams"]}
    streams["h264"]["first_picture"] = first[0]
    return streams


@pytest.mark.parametrize("rendition", [0, 1, 2])
def test_each_rendition_carries_its_picture_and_audio(
    sim: Simulator, rendition: int, tmp_path: Path
) -> None:
    cam = space_of(sim, "camera", "Running")
    entry = sim.world.by_id(cam["id"])
    assert entry is not None
    with client(sim) as http:
        master = m3u8.loads(http.get(cam["master"]).text)
        variant = master.playlists[rendition]
        width, height = variant.stream_info.resolution
        listing = m3u8.loads(http.get(variant.uri).text)
        segment = listing.segments[-1]
        body = http.get(variant.uri.rsplit("/", 1)[0] + "/" + segment.uri)
    assert body.status_code == 200 and body.headers["content-type"] == "video/mp2t"
    path = tmp_path / "segment.ts"
    path.write_bytes(body.content)
    seq = int(segment.uri.split("_")[2])
    maker = entry.renditions[rendition]
    streams = probe(path)
    picture, sound = streams["h264"], streams["aac"]
    assert (picture["width"], picture["height"]) == (width, height)
    assert int(str(picture["nb_read_frames"])) == video.SEGMENT_FRAMES
    assert picture["first_picture"] == "I"
    assert picture["start_pts"] == video_pts(maker, seq)
    assert segment.duration == video.SEGMENT_S
    # The audio is the rendition's own frames, from the first that starts in the segment.
    assert int(str(sound["nb_read_frames"])) == maker.timeline.frames(seq)
    assert sound["start_pts"] == maker.pts(seq)


def test_audio_in_a_segment_starts_within_a_frame_of_its_picture(sim: Simulator) -> None:
    cam = space_of(sim, "camera", "Running")
    entry = sim.world.by_id(cam["id"])
    assert entry is not None
    maker = entry.chunks
    starts = [maker.pts(seq) - video_pts(maker, seq) for seq in range(16)]
    assert all(0 <= ticks < 1920 for ticks in starts) and 0 in starts
    counts = [maker.timeline.frames(seq) for seq in range(8)]
    assert set(counts) == {140, 141} and sum(counts) == 1125  # 24 s of 48 kHz in 1024s
