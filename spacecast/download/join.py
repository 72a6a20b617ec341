"""Join stored chunks strictly by sequence number into one ADTS stream, then remux or copy it.

Joining is a byte stream of tag-free frames (x-spaces.md 2.6: the only joins that keep the
duration right are a byte stream followed by a remux, or a concat of fully stripped chunks).
Holes are planned first: a hole's length comes from the PTS of the chunks around it (to the
nearest frame), else from the EXTINF of the chunks X listed, so silence fills it exactly. A
chunk that X served cut short every time keeps its frames, and the rest of it (by its EXTINF)
is a hole of its own, right after it.
ffmpeg command lines are data, built by pure functions; nothing secret goes into them.
"""

from __future__ import annotations

import functools
import statistics
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacecast.download import chunks
from spacecast.download.workdir import StoredChunk

FRAME_S = 1024 / 48_000


@dataclass(frozen=True)
class Gap:
    first: int  # first missing sequence number
    last: int  # last missing sequence number
    frames: int  # the audio the hole stands for
    cut_short: bool = False  # the tail of chunk `first`, which X served cut short

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_S


Slot = int | Gap


def tail_frames(chunk: StoredChunk) -> int:
    """The frames missing from the end of a chunk X served cut short (by its EXTINF)."""
    return max(0, chunks.frames_for(chunk.duration) - chunk.frames) if chunk.cut else 0


def _gap_frames(
    seqs: range, before: StoredChunk | None, after: StoredChunk | None, listed: Mapping[int, float]
) -> int:
    if before and after and before.pts is not None and after.pts is not None:
        ticks = (after.pts - before.pts) % chunks.PTS_WRAP
        # The nearest frame: X's stamps run a little short of whole frames, and a floor would
        # lose a frame at every such hole.
        frames = round(ticks / chunks.PTS_PER_FRAME) - before.frames - tail_frames(before)
        if 0 < frames < 400 * len(seqs):  # a sane hole; anything else means the PTS jumped
            return frames
    if all(s in listed for s in seqs):
        return sum(chunks.frames_for(listed[s]) for s in seqs)
    return 0


def plan(listed: Mapping[int, float], stored: Mapping[int, StoredChunk]) -> list[Slot]:
    """Chunks in sequence order, with each run of missing ones as one Gap."""
    known = set(listed) | set(stored)
    if not known:
        return []
    slots: list[Slot] = []
    seq, last = min(known), max(known)
    while seq <= last:
        if seq in stored:
            slots.append(seq)
            if tail := tail_frames(stored[seq]):
                slots.append(Gap(seq, seq, tail, cut_short=True))
            seq += 1
            continue
        end = seq
        while end + 1 <= last and end + 1 not in stored:
            end += 1
        slots.append(
            Gap(
                seq,
                end,
                _gap_frames(range(seq, end + 1), stored.get(seq - 1), stored.get(end + 1), listed),
            )
        )
        seq = end + 1
    typical = round(statistics.median(c.frames for c in stored.values())) if stored else 0
    return [
        Gap(s.first, s.last, typical * (s.last - s.first + 1))
        if isinstance(s, Gap) and not s.frames
        else s
        for s in slots
    ]


def report(gaps: list[Gap]) -> list[dict[str, Any]]:
    """Each gap as the summary and the logs show it."""
    return [
        {"from_seq": g.first, "to_seq": g.last, "seconds": round(g.seconds, 3)}
        | ({"cut_short": True} if g.cut_short else {})
        for g in gaps
    ]


def describe(gaps: list[Gap]) -> str:
    """The gaps in a few words: "2 chunks missing (5-6); chunk 50 cut short by 1 frame (0.021
    s); 3.0 s in all"."""
    lost = [g for g in gaps if not g.cut_short]
    count = sum(g.last - g.first + 1 for g in lost)
    parts = [
        f"{count} chunk{'s' * (count != 1)} missing "
        f"({', '.join(f'{g.first}-{g.last}' for g in lost)})"
    ] if lost else []  # fmt: skip
    parts += [
        f"chunk {g.first} cut short by {g.frames} frame{'s' * (g.frames != 1)} ({g.seconds:.3f} s)"
        for g in gaps
        if g.cut_short
    ]
    return "; ".join([*parts, f"{sum(g.seconds for g in gaps):.1f} s in all"])


def silence_command() -> list[str]:
    """One second of digital silence, encoded like X's chunks (AAC-LC 48 kHz stereo, ADTS)."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "1",
        "-c:a", "aac", "-b:a", "96k", "-f", "adts", "pipe:1",
    ]  # fmt: skip


@functools.cache
def silent_frame() -> bytes:
    """A frame from the middle of encoded silence (past the encoder's start-up frames)."""
    data = subprocess.run(silence_command(), check=True, capture_output=True).stdout
    frames, pos = [], 0
    while (end := chunks.frame_end(data, pos)) is not None and end <= len(data):
        frames.append(data[pos:end])
        pos = end
    return frames[len(frames) // 2]


FRAGMENT_US = 60_000_000
# A camera Space's pictures are restamped to start this far in (ticks), so that no B-frame's
# DTS, which comes before its PTS, is ever negative; the audio is moved there too, then both back.
VIDEO_BASE = 10 * 90_000


def _fragments(video: bool) -> list[str]:
    """Fragmented, a fragment a minute: a plain MP4 keeps an index entry per frame in the
    muxer's memory until the end (about 150 MB for a 10,000-chunk Space), fragments keep one
    minute's. delay_moov: the AAC config comes out of aac_adtstoasc with the first packet,
    after an empty moov would have been written without it. With a picture, each fragment
    starts at a keyframe (frag_keyframe), once a minute has gone by (min_frag_duration)."""
    flags = "+frag_keyframe+empty_moov+delay_moov+default_base_moof"
    return [
        "-movflags",
        flags,
        "-min_frag_duration" if video else "-frag_duration",
        str(FRAGMENT_US),
    ]


def remux_command(dst: Path) -> list[str]:
    """ADTS on stdin -> AAC in MP4, stream copy; tags are written afterwards with mutagen."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "aac", "-i", "pipe:0",
        "-map", "0:a:0", "-c", "copy", "-bsf:a", "aac_adtstoasc", "-map_metadata", "-1",
        *_fragments(False), "-f", "mp4", str(dst),
    ]  # fmt: skip


def _seconds(ticks: int) -> str:
    return f"{ticks / 90_000:.6f}"


# Packets each input's reader thread may hold ahead of the muxer. ffmpeg's default, 8, is a
# sixth of a second of audio: the muxer kept finding the sound's queue empty and slept 10 ms
# each time (an hour of a camera Space took minutes to join at next to no CPU).
INPUT_QUEUE = 1024


def remux_video_command(dst: Path, video_fd: int, lead_ticks: int) -> list[str]:
    """ADTS on stdin and the restamped pictures (MPEG-TS) on `video_fd` -> H.264 and AAC in
    MP4, stream copy. The timestamps are kept as given (copyts): the pictures sit where the
    joiner put them, VIDEO_BASE plus their place in the audio, and the audio is moved to
    VIDEO_BASE plus `lead_ticks` (how far the first picture comes before the first sound)."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-copyts",
        "-thread_queue_size", str(INPUT_QUEUE),
        "-itsoffset", _seconds(VIDEO_BASE + lead_ticks), "-f", "aac", "-i", "pipe:0",
        "-thread_queue_size", str(INPUT_QUEUE), "-f", "mpegts", "-i", f"pipe:{video_fd}",
        "-map", "1:v:0", "-map", "0:a:0", "-c", "copy", "-bsf:a", "aac_adtstoasc",
        "-map_metadata", "-1", "-output_ts_offset", f"-{_seconds(VIDEO_BASE)}",
        *_fragments(True), "-f", "mp4", str(dst),
    ]  # fmt: skip
