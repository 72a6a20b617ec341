"""Wall time, CPU time and peak RSS of a command and every process it starts."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.procfs import all_stat_fields, tree_pids

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    wall_s: float
    cpu_s: float  # user + system of the command and all its descendants
    peak_rss_mb: float  # the largest sum of RSS over the process tree, sampled at 20 Hz
    returncode: int
    # The command's own process's RSS when its progress first reached each mark (MB).
    rss_at: dict[int, float] = field(default_factory=dict)


class LineCounter:
    """Lines in a file that only grows (a download's manifest: one per stored chunk), read
    incrementally so that counting costs nearly nothing."""

    def __init__(self, path: Path) -> None:
        self.path, self._offset, self.lines = path, 0, 0

    def __call__(self) -> int:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return self.lines
        self._offset += len(data)
        self.lines += data.count(b"\n")
        return self.lines


def tree_rss(root: int) -> int:
    """Bytes of RSS of `root` and its descendants."""
    stats = all_stat_fields()
    return sum(int(stats[pid][21]) * PAGE for pid in tree_pids(root, stats) if pid in stats)


def tree_cpu_s(root: int) -> float:
    """User and system CPU seconds so far of `root` and its living descendants."""
    stats = all_stat_fields()
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in tree_pids(root, stats) if p in stats)
    return ticks / TICKS


def own_rss(pid: int) -> int:
    """Bytes of RSS of `pid` alone (0 once it is gone)."""
    stat = all_stat_fields().get(pid)
    return int(stat[21]) * PAGE if stat else 0


def run(
    cmd: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    progress: Callable[[], int] | None = None,
    marks: Sequence[int] = (),
) -> Usage:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdout=out, stderr=out)
    peak = 0
    done = threading.Event()
    rss_at: dict[int, float] = {}

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, tree_rss(proc.pid))
            reached = progress() if progress and len(rss_at) < len(marks) else 0
            for mark in marks:
                if reached >= mark and mark not in rss_at:
                    rss_at[mark] = round(own_rss(proc.pid) / 1e6, 1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss covers the single largest process: a floor for the tree's peak.
    peak = max(peak, after.ru_maxrss * 1024 if after.ru_maxrss > before.ru_maxrss else 0)
    return Usage(wall, cpu, peak / 1e6, code, rss_at)


def wait(what: str, check: Callable[[], object], seconds: float, every: float = 0.1) -> float:
    """Seconds until `check()` holds; a benchmark that never gets there stops, saying what."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise SystemExit(f"bench: timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - start
