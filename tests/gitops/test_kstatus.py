"""What Flux (and kpt) make of a SpaceCast: kstatus (sigs.k8s.io/cli-utils), built by
devcluster/build.sh from devcluster/go/kstatus, on SpaceCasts whose status the controller's own
status builder wrote. Flux waits on Current and gives up on Failed, so a Live cast must read
Current, one on its way InProgress, a failed one Failed, and an ended one must not keep a
`flux reconcile --wait` waiting."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from devcluster import binaries

from .samples import PHASES, cast, phase


def kstatus(*objects: dict[str, Any]) -> list[tuple[str, str]]:
    binary = binaries.locate().path("kstatus")
    assert binary.exists(), "kstatus is not built: make k8s-binaries"
    lines = "".join(json.dumps(obj) + "\n" for obj in objects)
    done = subprocess.run([str(binary)], input=lines, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [tuple(row.split("\t", 1)) for row in done.stdout.splitlines()]  # type: ignore[misc]


@pytest.mark.parametrize(("name", "want"), [
    ("waiting for a slot", "InProgress"), ("waiting for a Secret", "InProgress"),
    ("starting", "InProgress"), ("live", "Current"), ("completed", "Current"),
    ("suspended", "Current"), ("failed", "Failed"),
])  # fmt: skip
def test_every_phase_reads_as_flux_expects(name: str, want: str) -> None:
    ((got, message),) = kstatus(cast(PHASES[name]))
    assert got == want, message


def test_a_status_for_an_older_spec_is_in_progress() -> None:
    ((got, message),) = kstatus(cast(phase("Live", "Live", "media is flowing"), generation=2))
    assert got == "InProgress", message
