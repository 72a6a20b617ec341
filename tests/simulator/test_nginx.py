"""The simulator's nginx processes (the RTMP ingest, the HTTP/2 edge): up once their port
answers, down on stop, up again after a stop (a test restarts the ingest mid-cast)."""

from __future__ import annotations

from pathlib import Path

from devcluster.processes import free_ports
from simulator import nginx
from simulator.ingest import Ingest


def test_the_ingest_starts_again_after_a_stop(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    ingest = Ingest(port, tmp_path / "records")
    for _ in range(2):
        ingest.start()
        assert nginx.listening(port)
        ingest.stop()
        assert not nginx.listening(port)
