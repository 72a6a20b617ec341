"""Processes as /proc shows them, for tests and benchmarks: the fields of /proc/<pid>/stat
after the command name (which is in parentheses and may hold spaces), so that field 0 is the
state, 1 the parent, 2 the process group, 11 and 12 the user and system CPU ticks and 21 the
resident pages."""

from __future__ import annotations

import os
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def all_stat_fields() -> dict[int, list[str]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := stat_fields(int(entry))) is not None:
            found[int(entry)] = fields
    return found


def tree_pids(root: int, stats: dict[int, list[str]] | None = None) -> list[int]:
    """`root` and all its descendants, from /proc."""
    stats = all_stat_fields() if stats is None else stats
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += [child for child, fields in stats.items() if int(fields[1]) == pid]
    return found


def proc_text(pid: int, name: str) -> str:
    """/proc/<pid>/<name> (cmdline, environ, comm) as text, NULs as spaces; "" once gone."""
    try:
        raw = Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")
