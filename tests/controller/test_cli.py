"""`spacecast controller` as users run it: its endpoints, and bad input as one line and a
documented code."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import httpx

from controller.kube import Kube
from controller.reconcile import Caches, EventPoster
from controller.run import connections

from .conftest import StartController, make_cast, make_secret, wait_phase


def controller_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spacecast.cli", "controller", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_health_and_metrics(kube: Kube, k8s_namespace: str, controller: StartController) -> None:
    make_secret(kube, k8s_namespace, "ingest", {"url": "rtmp://ingest.example/app/k"})
    c = controller()
    assert c.server is not None
    base = f"http://127.0.0.1:{c.server.server_address[1]}"
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/readyz").status_code == 200
    make_cast(kube, k8s_namespace, "talk")
    wait_phase(kube, k8s_namespace, "talk", "Pending")  # no scheduler here: the pod waits
    text = httpx.get(f"{base}/metrics").text
    assert 'spacecast_controller_reconciles_total{result="ok"}' in text
    assert 'spacecast_controller_writes_total{kind="pod"} 1.0' in text
    assert httpx.get(f"{base}/nothing").status_code == 404


def test_print_the_crd() -> None:
    out = controller_cli("crd")
    assert out.returncode == 0 and "kind: CustomResourceDefinition" in out.stdout


def test_bad_input(tmp_path: Path) -> None:
    missing = controller_cli("--kubeconfig", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "kubeconfig" in one_line(missing)
    bad = controller_cli("--workers", "many")
    assert bad.returncode == 2 and "--workers" in one_line(bad)
    env = controller_cli("--session-env", '{"PATH": "/evil"}')
    assert env.returncode == 2 and "only SPACECAST_* variables: PATH" in one_line(env)
    hostile = controller_cli("--namespace", "a/../b\nc")
    assert hostile.returncode == 2 and "--namespace" in one_line(hostile)
    not_json = controller_cli("--session-env", "KEY=value")
    assert not_json.returncode == 2 and "--session-env" in one_line(not_json)


def test_a_busy_port(control_plane: object, tmp_path: Path) -> None:
    kubeconfig = control_plane.kubeconfig  # type: ignore[attr-defined]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = controller_cli("--kubeconfig", str(kubeconfig), "--metrics-bind", "127.0.0.1",
                                "--metrics-port", port)  # fmt: skip
    assert result.returncode == 3 and f"127.0.0.1:{port}" in one_line(result)


def test_the_connection_pool_has_room_for_every_thread_that_talks_to_the_api(
    kube: Kube, controller: StartController
) -> None:
    """Each watch, worker, Event poster and the elector holds a connection at once; a pool
    smaller than that opens and drops a connection (a TLS handshake) for every request over."""
    c = controller(leader_elect=True, lease_namespace="default")
    talkers = [t for t in c.threads if t.name.startswith(("watch-", "worker-", "leader"))]
    talkers += c.reconcile.events.workers
    assert all(t.is_alive() for t in talkers)
    assert len(talkers) == len(fields(Caches)) + c.settings.workers + EventPoster.THREADS + 1
    assert connections(c.settings) > len(talkers)
