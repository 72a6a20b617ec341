"""The picture of a camera Space's renditions: H.264 test cards, as X's are, in each size.

A card shows the host's name (the speaker on camera), the rendition's size and a running clock
with a frame counter. Encoding every segment of every rendition would cost the simulator more
CPU than the clients it serves (a 720p segment takes about half a second here), so each size is
encoded once per machine as a loop of LOOP_SEGMENTS segments and kept in the cache: segment n
shows loop segment n % LOOP_SEGMENTS, and its clock runs through one loop (a minute). Frame
counts and durations, which is what a recording is checked by, are exact all the same.

Each loop segment is a video-only MPEG-TS of exactly SEGMENT_FRAMES frames, starting with a
keyframe (segments are cut at keyframes, as a transcoder's are), with B-frames, so that DTS and
PTS differ as they do in X's High-profile renditions.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from simulator import audio

FPS = 30
SEGMENT_S = 3  # a camera Space's segments are cut every 3 s, at a keyframe
SEGMENT_FRAMES = FPS * SEGMENT_S
SEGMENT_TICKS = SEGMENT_S * 90_000
LOOP_SEGMENTS = 20
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # fonts-dejavu-core


def card_filter(width: int, height: int, name: str) -> str:
    """lavfi graph of the card. The name is a screen name ([A-Za-z0-9_]); anything else is
    dropped, so nothing in it can reach the filter syntax."""
    name = re.sub(r"[^A-Za-z0-9_]", "", name)
    seconds = LOOP_SEGMENTS * SEGMENT_S
    text = f"fontfile={FONT}:fontcolor=white:x=(w-tw)/2"
    return ",".join(
        [
            f"color=c=0x1d2a3a:s={width}x{height}:r={FPS}:d={seconds}",
            f"drawtext={text}:fontsize=h/9:y=h/4:text='{name}'",
            f"drawtext={text}:fontsize=h/16:y=h/4+h/7:text='{height}p'",
            rf"drawtext={text}:fontsize=h/12:y=h*3/5:text='%{{pts\:hms}}  %{{n}}'",
        ]
    )


def encode_command(width: int, height: int, name: str, pattern: str) -> list[str]:
    """The whole loop in one run, cut into segment files at the forced keyframes."""
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", card_filter(width, height, name),
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-pix_fmt", "yuv420p",
        # A keyframe exactly every segment and nowhere else, so every segment is whole frames.
        "-g", str(SEGMENT_FRAMES), "-keyint_min", str(SEGMENT_FRAMES), "-sc_threshold", "0",
        "-force_key_frames", f"expr:eq(mod(n,{SEGMENT_FRAMES}),0)",
        "-f", "segment", "-segment_time", str(SEGMENT_S), "-segment_format", "mpegts",
        "-reset_timestamps", "1", pattern,
    ]  # fmt: skip


_ENCODING = threading.Lock()  # segments are muxed side by side: one encode of a loop at a time


@functools.cache
def loop_dir(width: int, height: int, name: str) -> Path:
    """The encoded loop of one size, built once per machine (a half-built one is never used)."""
    with _ENCODING:
        return _build(width, height, name)


def _build(width: int, height: int, name: str) -> Path:
    recipe = repr((encode_command(width, height, name, ""), LOOP_SEGMENTS, 1))
    final = (
        audio.cache_dir()
        / f"card-{width}x{height}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    )
    last = final / f"{LOOP_SEGMENTS - 1:03d}.ts"
    if not last.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".card-"))
        try:
            cmd = encode_command(width, height, name, str(staging / "%03d.ts"))
            subprocess.run(cmd, check=True, capture_output=True)
            if not (staging / last.name).exists():
                raise RuntimeError(f"the {width}x{height} card loop came out short")
            shutil.rmtree(final, ignore_errors=True)  # a loop left half-made by a crash
            staging.rename(final)
        except OSError:
            if not last.exists():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def segment_file(width: int, height: int, name: str, seq: int) -> Path:
    return loop_dir(width, height, name) / f"{seq % LOOP_SEGMENTS:03d}.ts"


def warm(cards: Iterable[tuple[int, int, str]]) -> None:
    for width, height, name in cards:
        loop_dir(width, height, name)
