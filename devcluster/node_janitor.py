"""The real node's janitor: `python -m devcluster.node_janitor RECORD`.

The node starts it with a pipe on its stdin, in a session of its own and without PDEATHSIG: it
must outlive its starter. When the pipe closes (its starter has gone, by a clean stop or a
kill -9) it undoes whatever RECORD names (devcluster/node_host.py), if the record is still
there: a clean stop has removed it already, and the janitor just exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

from devcluster import node_host


def main(argv: list[str]) -> int:
    record = Path(argv[1])
    sys.stdin.buffer.read()  # returns at EOF: the starter closed the pipe, or died
    if record.exists():
        changes = node_host.Changes.load(record)
        node_host.undo(changes)
        node_host.remove_state(changes.layout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
