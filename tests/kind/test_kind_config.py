"""kind-config.yaml cannot be tried here (kind needs Docker), so it is decoded strictly into
kind's own config types (devcluster/go/kindconfig: sigs.k8s.io/kind's v1alpha4), which refuse
a misspelt field as kind itself would."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devcluster import binaries

CONFIG = Path(__file__).resolve().parents[2] / "kind-config.yaml"


def decode(path: Path) -> subprocess.CompletedProcess[str]:
    tool = str(binaries.locate().path("kindconfig"))
    return subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=30)


def test_kind_reads_our_config_as_meant() -> None:
    done = decode(CONFIG)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [
        "control-plane 0 port mappings",
        "worker 0 port mappings",
    ]


def test_the_check_refuses_a_misspelt_field(tmp_path: Path) -> None:
    bad = tmp_path / "kind.yaml"
    bad.write_text(CONFIG.read_text().replace("labels:", "lables:"))
    done = decode(bad)
    assert done.returncode == 1 and 'unknown field "lables"' in done.stderr
