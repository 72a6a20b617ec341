"""Camera Spaces: their picture and sound in an mp4, exact against the simulator's ground truth
(the sound to the frame, the picture by frame count and duration), any rendition, the sound
alone, with gaps, resume and a live recording."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from simulator import video
from spacecast.download import verify
from spacecast.errors import ExitCode
from tests.simulator.conftest import MakeSim

from .conftest import Download, adts_of, truth

pytestmark = pytest.mark.slow
SPACE = "kind=camera,id=1CameraReplay,start=-900,duration=60,title=On Camera,host=cam_host"
SPACE_ID = "1CameraReplay"
SEGMENTS = 19  # 60 s in 3-s segments, of which the last has not ended with the Space
SIZES = {0: (1280, 720), 1: (854, 480), 2: (426, 240)}


def streams(path: Path) -> dict[str, dict[str, Any]]:
    """Per codec: size, packets counted, duration, start, as ffprobe reads them."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
         "stream=codec_name,width,height,nb_read_packets,duration,start_time", "-of", "json",
         str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {s["codec_name"]: s for s in json.loads(out)["streams"]}


def check_recording(
    sim: Any, out: Path, rendition: int, segments: range, pictures: int | None = None
) -> None:
    """Sound: the rendition's own frames, bit for bit. Picture: its size, every frame, and as
    long as the sound."""
    found = streams(out)
    width, height = SIZES[rendition]
    picture, sound = found["h264"], found["aac"]
    assert (picture["width"], picture["height"]) == (width, height)
    frames = pictures if pictures is not None else video.SEGMENT_FRAMES * len(segments)
    assert int(picture["nb_read_packets"]) == frames
    assert float(picture["duration"]) == pytest.approx(frames / video.FPS, abs=0.05)
    audio = truth(sim, SPACE_ID, segments.start, segments.stop, rendition)
    assert adts_of(out) == audio
    assert float(sound["duration"]) == pytest.approx(float(picture["duration"]), abs=0.05)
    # The first picture and the first sound start together, within a frame of the sound, and
    # every segment's keyframe sits where its segment starts.
    assert abs(float(picture["start_time"]) - float(sound["start_time"])) < 0.022
    assert keyframes(out) == pytest.approx([3.0 * i for i in range(len(segments))], abs=0.022)


def keyframes(path: Path) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-skip_frame", "nokey",
         "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [float(t.strip(",")) for t in out.split()]


def test_camera_replay_has_picture_and_sound(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    result = download(sim, SPACE_ID)
    assert result.code == 0, result.err
    out = Path(result.summary["output"])
    assert out.suffix == ".mp4"
    check_recording(sim, out, 0, range(SEGMENTS))
    assert result.summary["rendition"] == "1280x720"
    assert result.summary["video_frames"] == video.SEGMENT_FRAMES * SEGMENTS
    tracks = verify.tracks(out)
    assert set(tracks) == {"soun", "vide"}


@pytest.mark.parametrize(("wanted", "rendition"), [("480", 1), ("240p", 2), ("worst", 2)])
def test_any_rendition(make_sim: MakeSim, download: Download, wanted: str, rendition: int) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    result = download(sim, "--rendition", wanted, SPACE_ID)
    assert result.code == 0, result.err
    check_recording(sim, Path(result.summary["output"]), rendition, range(SEGMENTS))
    assert result.summary["rendition"] == "{}x{}".format(*SIZES[rendition])


def test_a_rendition_the_space_lacks_is_one_line(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    result = download(sim, "--rendition", "1080", SPACE_ID)
    assert result.code == ExitCode.USAGE
    said = result.err.strip().splitlines()[-1]
    assert "no 1080p rendition" in said and "720p, 480p, 240p" in said
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("flags", "suffix"), [(["--audio-only"], ".m4a"), (["--format", "aac"], ".aac")]
)
def test_the_sound_alone(
    make_sim: MakeSim, download: Download, flags: list[str], suffix: str
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    result = download(sim, *flags, SPACE_ID)
    assert result.code == 0, result.err
    out = Path(result.summary["output"])
    assert out.suffix == suffix
    assert set(streams(out)) == {"aac"}
    audio = out.read_bytes() if suffix == ".aac" else adts_of(out)
    assert audio == truth(sim, SPACE_ID, 0, SEGMENTS)
    assert result.summary["video_frames"] == 0


@pytest.mark.parametrize("policy", ["silence", "skip"])
def test_lost_segments_under_the_gap_policy(
    make_sim: MakeSim, download: Download, policy: str
) -> None:
    """Two segments X lost: silence holds the last picture for their length, skip joins the
    pictures around them; the sound on either side stays exact."""
    sim = make_sim(space=[SPACE], final_list_404_s=0, lost_chunks=[6, 7])
    result = download(sim, "--gaps", policy, SPACE_ID)
    assert result.code == 0, result.err
    out = Path(result.summary["output"])
    gap = result.summary["gaps"]
    assert [(g["from_seq"], g["to_seq"]) for g in gap] == [(6, 7)]
    assert gap[0]["seconds"] == pytest.approx(6.0, abs=0.022)
    before, after = truth(sim, SPACE_ID, 0, 6), truth(sim, SPACE_ID, 8, SEGMENTS)
    audio = adts_of(out)
    assert audio.startswith(before) and audio.endswith(after)
    found = streams(out)
    assert int(found["h264"]["nb_read_packets"]) == video.SEGMENT_FRAMES * (SEGMENTS - 2)
    seconds = 3 * SEGMENTS - (0 if policy == "silence" else 6)
    assert float(found["h264"]["duration"]) == pytest.approx(seconds, abs=0.05)
    assert float(found["aac"]["duration"]) == pytest.approx(seconds, abs=0.05)


def test_lost_segments_fail_by_default(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, lost_chunks=[6])
    result = download(sim, SPACE_ID)
    assert result.code == ExitCode.MISSING_CHUNKS
    assert "1 chunk missing (6-6)" in result.err


def test_a_segment_cut_short_keeps_the_rest(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, short_chunks=[4])
    result = download(sim, "--gaps", "silence", SPACE_ID)
    assert result.code == 0, result.err
    assert [g.get("cut_short") for g in result.summary["gaps"]] == [True]
    assert result.summary["gaps"][0]["from_seq"] == 4
    out = Path(result.summary["output"])
    audio = adts_of(out)
    assert audio.startswith(truth(sim, SPACE_ID, 0, 4))
    assert audio.endswith(truth(sim, SPACE_ID, 5, SEGMENTS))
    found = streams(out)
    pictures = int(found["h264"]["nb_read_packets"])
    assert video.SEGMENT_FRAMES * (SEGMENTS - 1) <= pictures < video.SEGMENT_FRAMES * SEGMENTS
    assert result.summary["video_frames"] == pictures
    assert float(found["aac"]["duration"]) == pytest.approx(3 * SEGMENTS, abs=0.05)
    assert float(found["h264"]["duration"]) == pytest.approx(3 * SEGMENTS, abs=0.05)


def test_a_first_segment_lost_starts_with_silence(make_sim: MakeSim, download: Download) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, lost_chunks=[0])
    result = download(sim, "--gaps", "silence", SPACE_ID)
    assert result.code == 0, result.err
    out = Path(result.summary["output"])
    assert adts_of(out).endswith(truth(sim, SPACE_ID, 1, SEGMENTS))
    found = streams(out)
    assert float(found["aac"]["duration"]) == pytest.approx(3 * SEGMENTS, abs=0.05)
    assert int(found["h264"]["nb_read_packets"]) == video.SEGMENT_FRAMES * (SEGMENTS - 1)
    assert float(found["h264"]["start_time"]) == pytest.approx(3.0, abs=0.022)


def test_a_rerun_with_every_segment_kept(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    """Nothing to fetch: the output is written from the work directory alone, whole."""
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    assert download(sim, "--keep-work", SPACE_ID).code == 0
    result = download(sim, "--overwrite", SPACE_ID)
    assert result.code == 0, result.err
    assert (result.summary["chunks_reused"], result.summary["chunks_fetched"]) == (SEGMENTS, 0)
    check_recording(sim, Path(result.summary["output"]), 0, range(SEGMENTS))


def test_a_rerun_with_another_rendition_never_mixes_them(
    make_sim: MakeSim, download: Download
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, lost_chunks=[9])
    first = download(sim, "--rendition", "240", SPACE_ID)  # kept: segment 9 is missing
    assert first.code == ExitCode.MISSING_CHUNKS
    sim.sim.faults.lost = frozenset()
    result = download(sim, SPACE_ID)
    assert result.code == 0, result.err
    assert result.summary["chunks_reused"] == 0
    check_recording(sim, Path(result.summary["output"]), 0, range(SEGMENTS))


def test_a_running_camera_space_from_its_start(make_sim: MakeSim, download: Download) -> None:
    """Joined 15 s in: the live list has only its last few segments; the final list brings
    back the rest once the Space ends."""
    space = "kind=camera,id=1CameraLive12,start=-15,duration=45,host=cam_host"
    sim = make_sim(space=[space], speed=5, final_list_404_s=2)
    result = download(sim, "1CameraLive12")
    assert result.code == 0, result.err
    assert result.summary["live"] is True and result.summary["gaps"] == []
    count = result.summary["chunks"]
    assert count == 14  # 45 s in 3-s segments, the last unfinished at the end
    out = Path(result.summary["output"])
    assert adts_of(out) == truth(sim, "1CameraLive12", 0, count)
    found = streams(out)
    assert int(found["h264"]["nb_read_packets"]) == video.SEGMENT_FRAMES * count
    assert float(found["h264"]["duration"]) == pytest.approx(3 * count, abs=0.05)
    assert float(found["h264"]["start_time"]) == pytest.approx(0.0, abs=0.022)
