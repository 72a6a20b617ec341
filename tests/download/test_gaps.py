"""Holes filled with silence keep the Space's own timeline: after every gap, the audio sits
where the chunks' timestamps put it, within half a frame, even when X's timestamps are not a
whole number of frames apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.simulator.conftest import MakeSim

from .conftest import Download, adts_frames, final_list, http, truth

pytestmark = pytest.mark.slow
SPACE_ID = "1EndedReplay1"
SPACE = f"id={SPACE_ID},start=-900,duration=120,title=Old Talk,host=old_host"
PRIV_OWNER = b"com.apple.streaming.transportStreamTimestamp\x00"
PTS_PER_FRAME, PTS_WRAP, FRAME_S = 1920, 2**33, 1024 / 48_000


def chunk_pts(body: bytes) -> int:
    at = body.index(PRIV_OWNER) + len(PRIV_OWNER)
    return int.from_bytes(body[at : at + 8], "big")


def test_filled_gaps_keep_the_timestamps_timeline(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    knobs = {"space": [SPACE], "final_list_404_s": 0, "pts_early_ms": 1.0}
    whole = make_sim(**knobs)
    master = next(s["master"] for s in whole.spaces() if s["id"] == SPACE_ID)
    audio_dir = master.rsplit("/", 1)[0] + "/"  # chunks resolve beside the master
    with http(whole) as client:
        pts = [chunk_pts(client.get(audio_dir + s.uri).content)
               for s in final_list(whole, SPACE_ID).segments]  # fmt: skip
    frames = [adts_frames(truth(whole, SPACE_ID, seq, seq + 1)) for seq in range(len(pts))]
    # Holes whose neighbours' PTS distance falls short of whole frames: a floor loses one each.
    short = [
        k
        for k in range(1, len(pts) - 1)
        if (pts[k + 1] - pts[k - 1]) % PTS_WRAP < (len(frames[k - 1]) + len(frames[k])) * 1920
    ]
    holes: list[int] = []
    for k in short:  # holes apart from each other, so each is measured by its own neighbours
        if not holes or k - holes[-1] > 2:
            holes.append(k)
    assert len(holes) >= 3, "the setup needs three such holes"

    sim = make_sim(**knobs, missing_chunks=holes)
    target = tmp_path / "space.aac"
    result = download(sim, SPACE_ID, "--gaps", "silence", "--format", "aac", "-o", str(target))
    assert result.code == 0, result.err
    out = adts_frames(target.read_bytes())
    for hole, gap in zip(holes, result.summary["gaps"], strict=True):
        assert gap["seconds"] == pytest.approx(len(frames[hole]) * FRAME_S, abs=1e-3)
        after = frames[hole + 1]
        expected = (pts[hole + 1] - pts[0]) % PTS_WRAP / PTS_PER_FRAME
        found = [p for p in range(round(expected) - 4, round(expected) + 5)
                 if out[p : p + len(after)] == after]  # fmt: skip
        assert found, f"chunk {hole + 1} is not within 4 frames of its timestamp"
        assert abs(found[0] - expected) <= 0.5, (hole, found[0], expected)
    assert len(out) == sum(len(f) for f in frames)
