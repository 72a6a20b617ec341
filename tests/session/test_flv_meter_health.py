from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import audio
from spacecast.session import health
from spacecast.session.flv import read_tags
from spacecast.session.meter import FLOOR_DB, LevelWindow, mean_square
from spacecast.session.rescue import should_engage

from .conftest import tone_excess_db


@pytest.mark.slow
async def test_reads_an_ffmpeg_flv_stream() -> None:
    flv = subprocess.run(  # noqa: ASYNC221 (the test owns its loop; nothing else runs on it)
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-g",
            "30",
            "-c:a",
            "aac",
            "-f",
            "flv",
            "pipe:1",
        ],
        capture_output=True,
        check=True,
    ).stdout
    reader = asyncio.StreamReader()
    reader.feed_data(flv)
    reader.feed_eof()
    tags = [t async for t in read_tags(reader)]
    assert tags[0].is_metadata
    assert sum(t.is_sequence_header for t in tags) == 2
    assert sum(t.is_keyframe for t in tags) >= 3
    assert tags[-1].timestamp > 2800


def test_level_window_measures_silence_duration() -> None:
    window = LevelWindow(seconds=1.0, threshold_db=-60)
    loud, quiet = mean_square(b"\x00\x20" * 800), mean_square(b"\x00\x00" * 800)
    for i in range(10):
        window.add(loud, i * 0.1)
    assert -20 < window.level_db < -5 and window.silent_for(1.0) == 0
    for i in range(10, 40):
        window.add(quiet, i * 0.1)
    assert window.level_db == FLOOR_DB
    assert 2.0 <= window.silent_for(4.0) <= 3.1


def test_readiness_means_media_flowing_not_sound() -> None:
    def reasons(**changes: object) -> list[str]:
        vitals = {"space_running": True, "publishing": 1, "output_age": 0.5, "silent_for": 0.0}
        return health.readiness(health.Vitals(**(vitals | changes)), window_s=10)  # type: ignore[arg-type]

    assert reasons() == []
    assert reasons(silent_for=3600.0) == []  # an hour of silence: still delivering media
    assert reasons(output_age=9.9) == []
    assert reasons(output_age=10.5) == ["the encoder's output stalled 10 s ago"]
    assert reasons(output_age=None) == ["the encoder has produced no output yet"]
    assert reasons(publishing=0) == ["no destination is publishing"]
    assert reasons(space_running=False) == ["the Space is not running"]


def test_rescue_policy() -> None:
    base = {"silence_seconds": 10.0, "starved_seconds": 5.0}
    assert not should_engage(running=True, silent_for=3, starved_for=0, **base)
    assert should_engage(running=True, silent_for=10, starved_for=0, **base)
    assert should_engage(running=True, silent_for=0, starved_for=5, **base)
    assert not should_engage(running=False, silent_for=100, starved_for=100, **base)


@pytest.mark.slow
def test_tone_check_catches_a_rendition_mix(tmp_path: Path) -> None:
    """The camera test's "rendition 0 only" check has teeth: speech mixed with a rendition's
    tone is flagged, speech alone is not."""
    speech, tone = audio.speech(), audio.tone(1000)
    (tmp_path / "speech.aac").write_bytes(b"".join(speech.frames[:900]))
    (tmp_path / "tone.aac").write_bytes(b"".join(tone.frames[:900]))
    mixed = tmp_path / "mixed.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(tmp_path / "speech.aac"),
            "-i",
            str(tmp_path / "tone.aac"),
            "-filter_complex",
            "amix=inputs=2",
            str(mixed),
        ],
        check=True,
    )
    assert tone_excess_db(mixed, 1000) > 10
    assert tone_excess_db(tmp_path / "speech.aac", 1000) < 10


def test_the_level_reads_silence_before_anything_is_measured() -> None:
    """A fresh session's first scrape, before the meter runs, must not read 0 dB (loud)."""
    scrape = subprocess.run(
        [sys.executable, "-c", "import prometheus_client, spacecast.session.metrics; "
         "print(prometheus_client.generate_latest().decode())"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(row for row in scrape.splitlines() if row.startswith("spacecast_audio_level_dbfs "))
    assert float(line.split()[1]) == FLOOR_DB
