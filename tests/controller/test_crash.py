"""The real `spacecast controller` process, killed with SIGKILL in the middle of a burst of
creations and started again: every cast ends with exactly one pod."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from controller.kube import Kube
from devcluster.cluster import ControlPlane
from tests.wait import wait_for

from .conftest import cast_manifest, make_secret

pytestmark = pytest.mark.slow
CASTS = 200


def start(control_plane: ControlPlane, ns: str, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "spacecast.cli", "controller",
            "--kubeconfig", str(control_plane.kubeconfig), "--namespace", ns,
            "--metrics-port", "0", "--metrics-bind", "127.0.0.1",
            "--session-image", "spacecast/session:test"]  # fmt: skip
    env = os.environ | {"SPACECAST_LOG_FORMAT": "json"}
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_sigkill_mid_burst_leaves_one_pod_per_cast(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, tmp_path: Path
) -> None:
    ns, log = k8s_namespace, tmp_path / "controller.log"
    make_secret(kube, ns, "ingest", {"url": "rtmp://ingest.example/app/k"})
    proc = start(control_plane, ns, log)
    path = f"/apis/spacecast.dev/v1alpha1/namespaces/{ns}/spacecasts"

    def pods() -> list[str]:
        items = kube.request("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
        return [p["metadata"]["name"] for p in items]

    with ThreadPoolExecutor(8) as pool:
        created = pool.map(
            lambda i: kube.request("POST", path, body=cast_manifest(f"c{i:03d}")), range(CASTS)
        )
        # Kill it once it is well into the work, with writes in flight.
        wait_for("pods being created", lambda: len(pods()) >= 20, 60, every=0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert len(list(created)) == CASTS
    partial = len(pods())
    proc = start(control_plane, ns, log)
    try:
        wait_for(f"{CASTS} pods", lambda: len(pods()) >= CASTS, 120)
        names = sorted(pods())
        assert names == [f"c{i:03d}-0" for i in range(CASTS)]  # one each, none twice
        statuses = kube.request("GET", path)["items"]
        wait_for("every status written", lambda: all(
            c.get("status", {}).get("podName") for c in kube.request("GET", path)["items"]
        ), 60)  # fmt: skip
        assert len(statuses) == CASTS and partial < CASTS
        assert sorted(pods()) == names  # and none came after
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    assert "Traceback" not in log.read_text()
