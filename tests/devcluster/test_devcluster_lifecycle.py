"""Nothing is left behind: teardown by process group, on failure, on a killed parent, and
from `spacecast dev-cluster` on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devcluster import binaries
from devcluster.cluster import ControlPlane
from devcluster.processes import StartupError, wait_until
from tests.procfs import all_stat_fields, stat_fields


def _alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"  # a zombie only awaits its parent's wait


def _children(pid: int) -> list[int]:
    return [child for child, fields in all_stat_fields().items() if int(fields[1]) == pid]


def test_a_child_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from devcluster.processes import ManagedProcess
        from spacecast.logs import configure_logging
        configure_logging()  # logs to stderr: stdout carries only the pid
        proc = ManagedProcess("sleeper", ["sleep", "300"], Path({str(tmp_path)!r}) / "log")
        proc.start()
        print(proc.pid, flush=True)
        time.sleep(300)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()  # SIGKILL: no atexit hook, no finally block runs
    parent.wait()
    wait_until(lambda: not _alive(child), timeout=10, what="orphaned child to die")


def test_a_component_that_fails_to_start_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_etcd = bin_dir / "etcd"
    fake_etcd.write_text("#!/bin/sh\necho 'etcd: cannot open data dir' >&2\nexit 1\n")
    fake_etcd.chmod(0o755)
    cluster = ControlPlane(bins=binaries.Binaries(bin_dir))
    with pytest.raises(StartupError, match="cannot open data dir"):
        cluster.start()
    assert not cluster.workdir.exists()
    assert not cluster.processes()


@pytest.mark.slow
def test_dev_cluster_command_serves_kubectl_and_helm_then_stops_on_ctrl_c() -> None:
    try:
        bins = binaries.locate()
    except binaries.BinariesMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    cli = subprocess.Popen(
        [sys.executable, "-m", "spacecast.cli", "dev-cluster"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        kubeconfig = _read_kubeconfig_line(cli)
        components = _children(cli.pid)
        assert len(components) == 5  # etcd, apiserver, controller-manager, scheduler, kwok
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        nodes = _run([str(bins.path("kubectl")), "get", "nodes", "-o", "name"], env)
        assert "node/kwok-node-0" in nodes
        assert "NAME" in _run([str(bins.path("helm")), "list", "--all-namespaces"], env)
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=60) == 0
    finally:
        if cli.poll() is None:
            cli.kill()
    assert not kubeconfig.parent.exists()  # the work dir is gone
    assert not [pid for pid in components if _alive(pid)]


def _read_kubeconfig_line(cli: subprocess.Popen[str]) -> Path:
    assert cli.stdout is not None
    for line in cli.stdout:  # ends if the command exits early
        found = re.match(r"export KUBECONFIG=(\S+)", line)
        if found:
            return Path(found.group(1))
    raise AssertionError(f"dev-cluster exited ({cli.wait()}) without printing KUBECONFIG")


def _run(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
