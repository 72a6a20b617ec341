"""A long cast through a scripted sequence of faults, measured at the ingest (issue 13).

One real session casts a simulated audio Space through the simulator's fault proxy to its
nginx-rtmp ingest. Every `--every` seconds one fault from the script hits it. The ingest is
watched from outside: the total size of its recordings is sampled every 50 ms, so an outage is
the longest time without a new byte arriving, measured from the fault on. The audio level after
each recovery is read from the recording itself: 5 s of it, from 3 s after media came back,
through ffmpeg's volumedetect (each recording file's name carries the time its publish began).

    uv run python -m bench.chaos [--minutes 10] [--every 60]     (or: make bench-chaos)

Targets (issue 13): every fault survived (the cast never ends early; it ends with exit 0 when
the Space does); each outage at most 10 s (3 s for a single destination's reconnect), counted
for a fault on the path to the ingest from when the path is whole again (a 20 s blackhole is
20 s without media whatever the cast does); audio above -30 dB after each.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.measure import wait
from simulator.server import Simulator, ThreadedSimulator
from simulator.settings import SimulatorSettings
from spacecast.session.local import LocalCast, free_display
from tests.procfs import proc_text, tree_pids

KEY = "chaos_key"
SPACE = "1ChaosSpace01"


@dataclass
class Fault:
    name: str
    inject: Callable[[LocalCast, Simulator], None]
    lasts_s: float = 0.0  # how long the world is broken (0: until the cast repairs itself)
    single_reconnect: bool = False  # judged by the 3 s target
    # The fault ends the connection it finds: media is back only on a new publish (what the
    # old one's server still held arrives late, not live).
    new_publish: bool = False


def _freeze(comm: str, *marks: str) -> Callable[[LocalCast, Simulator], None]:
    def freeze(run: LocalCast, sim: Simulator) -> None:
        for pid in tree_pids(run.proc.pid):
            args = proc_text(pid, "cmdline")
            if proc_text(pid, "comm").strip() == comm and all(m in args for m in marks):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)

    return freeze


def _freeze_page(run: LocalCast, sim: Simulator) -> None:
    """The process that runs the page: its renderer, or Chromium itself in single-process mode
    (the default without the sandbox)."""
    renderers = [p for p in tree_pids(run.proc.pid) if "--type=renderer" in proc_text(p, "cmdline")]
    marks = ("--type=renderer",) if renderers else ("--single-process",)
    _freeze("chromium", *marks)(run, sim)


def _lever(path: str, **query: object) -> Callable[[LocalCast, Simulator], None]:
    def pull(run: LocalCast, sim: Simulator) -> None:
        httpx.post(f"{sim.http_url}{path}", params=query).raise_for_status()  # type: ignore[arg-type]

    return pull


SCRIPT = [
    Fault("encoder frozen (SIGSTOP)", _freeze("ffmpeg", "x11grab")),
    Fault("level meter frozen", _freeze("parec")),
    Fault("page renderer frozen", _freeze_page),
    Fault(
        "X's API resetting for 30 s", _lever("/_sim/outage", scope="api", mode="reset", seconds=30)
    ),  # no media outage expected: only the Space's state is out of reach
    Fault(
        "ingest connection cut",
        _lever("/_sim/ingest/fault", mode="cut"),
        single_reconnect=True,
        new_publish=True,
    ),
    Fault(
        "ingest blackholed 20 s",
        _lever("/_sim/ingest/fault", mode="blackhole", seconds=20),
        20,
        new_publish=True,
    ),
    Fault(
        "ingest down 8 s",
        _lever("/_sim/ingest/fault", mode="refuse", seconds=8),
        8,
        new_publish=True,
    ),
    Fault(
        "ingest flapping 20 s (2 s up, 5 s down)",
        _lever("/_sim/ingest/fault", mode="flap", up=2, down=5, seconds=20),
        20,
        new_publish=True,
    ),
]


def born(path: Path) -> int:
    """The epoch second nginx-rtmp opened a recording, from its name (record_unique)."""
    found = re.search(r"-(\d+)\.flv$", path.name)
    return int(found[1]) if found else 0


class Arrivals:
    """When the ingest's recordings grew (monotonic time, and which recording's publish
    began when, epoch), sampled every 50 ms."""

    def __init__(self, record_dir: Path) -> None:
        self.record_dir, self.times = record_dir, [(time.monotonic(), 0)]
        self.stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        sizes: dict[Path, int] = {}
        while not self.stop.wait(0.05):
            for path in self.record_dir.glob("*.flv"):
                if (size := path.stat().st_size) > sizes.get(path, 0):
                    sizes[path] = size
                    self.times.append((time.monotonic(), born(path)))

    def outage(self, start: float, end: float, born_since: int = 0) -> tuple[float, float]:
        """The longest time without arrivals in [start, end] (counting only recordings whose
        publish began at `born_since` or later), and when media came back."""
        inside = sorted({t for t, b in self.times if start <= t <= end and b >= born_since})
        points = [start, *inside]
        gaps = [(b - a, b) for a, b in itertools.pairwise(points)]
        return max(gaps, default=(end - start, end))


def level_after(record_dir: Path, wall_start: float, wall_end: float) -> float | None:
    """Mean volume (dB) of what the ingest recorded between two wall-clock (epoch) times: from
    the recording whose publish began last before `wall_start` and carried media (a publish
    the ingest refused leaves an empty one)."""
    began = {born(p): p for p in record_dir.glob("*.flv") if p.stat().st_size}
    starts = [t for t in began if t <= wall_start]
    if not starts:
        return None
    path, offset = began[max(starts)], wall_start - max(starts)
    err = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-ss", f"{offset:.2f}", "-t",
         f"{wall_end - wall_start:.2f}", "-i", str(path), "-vn", "-af", "volumedetect",
         "-f", "null", "-"], capture_output=True, text=True,
    ).stderr  # fmt: skip
    found = re.search(r"mean_volume: (-?[\d.]+) dB", err)
    return float(found[1]) if found else None


@dataclass
class Row:
    fault: str
    survived: bool
    outage_s: float  # the longest time without media at the ingest from the fault on
    beyond_s: float  # of which after the fault itself was over (the cast's own share)
    target_s: float
    back_wall: float = 0.0  # epoch time media came back
    level_db: float | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between faults")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp:
        settings = SimulatorSettings(
            http_port=0, https_port=0, state_dir=f"{tmp}/sim", ingest=True, ingest_port=0,
            ingest_keys=[KEY], ingest_proxy=True, ingest_dir=f"{tmp}/ingest",
            space=[f"kind=audio,id={SPACE},start=-30,duration=0"],
        )  # fmt: skip
        with ThreadedSimulator(settings) as sim:
            rows, code = run_script(sim, Path(tmp), args.minutes * 60, args.every)
        # The simulator gone, nginx has closed every recording: read the levels from whole
        # files, not from files still being written.
        for row in rows:
            row.level_db = level_after(Path(tmp) / "ingest", row.back_wall + 3, row.back_wall + 8)
    show(rows, code)


def run_script(sim: Simulator, tmp: Path, total_s: float, every: float) -> tuple[list[Row], int]:
    run = LocalCast.start(sim, SPACE, tmp / "cast", key=KEY, display=free_display(120))
    rows: list[Row] = []
    try:
        wait("the cast on air", run.ready, 90, 0.5)
        arrivals = Arrivals(tmp / "ingest")
        started = time.monotonic()
        for n, fault in enumerate(SCRIPT[: int(total_s // every) - 1], 1):
            _sleep_until(started + n * every - every / 2)
            at, wall = time.monotonic(), time.time()
            fault.inject(run, sim)
            _sleep_until(at + every / 2 + 10)
            since = int(wall) if fault.new_publish else 0
            gap, back = arrivals.outage(at, at + every / 2 + 10, born_since=since)
            target = 3.0 if fault.single_reconnect else 10.0
            beyond = max(0.0, (back - at) - fault.lasts_s) if fault.lasts_s else gap
            rows.append(Row(fault.name, run.proc.poll() is None, gap, beyond, target,
                            back_wall=wall + (back - at)))  # fmt: skip
            print(rows[-1], flush=True)
        _sleep_until(started + total_s)
        entry = sim.world.by_id(SPACE)
        assert entry is not None
        entry.space.end(sim.world.now())
        code = run.wait_exit(60)
    finally:
        run.stop()
    return rows, code


def _sleep_until(when: float) -> None:
    time.sleep(max(0.0, when - time.monotonic()))


def show(rows: list[Row], code: int) -> None:
    table = Table(title=f"A cast through faults (exit {code} when the Space ended)")
    for col in ("fault", "survived", "outage at the ingest s", "of it after the fault s",
                "target s", "audio after dB"):  # fmt: skip
        table.add_column(col)
    for r in rows:
        level = "-" if r.level_db is None else f"{r.level_db:.1f}"
        table.add_row(r.fault, "yes" if r.survived else "NO", f"{r.outage_s:.1f}",
                      f"{r.beyond_s:.1f}", f"{r.target_s:.0f}", level)  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
