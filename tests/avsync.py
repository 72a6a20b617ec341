"""The A/V offset of a recording of the simulator's beep-and-flash Space (kind=avsync), read the
way the session's calibration reads its capture (spacecast/session/calibration.py): the first
white frame after each beep's onset. For the tests and bench/session.py."""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

from spacecast.session import calibration


def _printed(path: Path, media: list[str]) -> list[str]:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), *media,
            "-f", "null", "-"]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.splitlines()


def offsets(path: Path) -> list[float]:
    """Seconds by which each beep is heard after its flash is seen (negative: before)."""
    lumas = _printed(
        path, ["-an", "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-"]
    )
    silences = _printed(path, ["-vn", "-af", "silencedetect=noise=-35dB:d=0.3,"
                               "ametadata=print:key=lavfi.silence_end:file=-"])  # fmt: skip
    flashes = calibration.flashes(calibration.frames(lumas))
    beeps = [end for _, end in calibration.frames(silences)]
    found = []
    for flash in flashes:
        near = [b - flash for b in beeps if abs(b - flash) < 0.5]
        if near:
            found.append(min(near, key=abs))
    return found


def summary(path: Path) -> dict[str, float]:
    found = offsets(path)
    return {
        "pairs": len(found),
        "median_ms": 1000 * statistics.median(found) if found else float("nan"),
        "max_abs_ms": 1000 * max(map(abs, found)) if found else float("nan"),
    }
