"""Benchmark of `spacecast controller` against a minimal kopf operator and the control plane's
own floor (issue 11), on the local control plane (etcd, kube-apiserver, the scheduler,
kube-controller-manager and kwok nodes), in one run:

- spacecast: `spacecast controller --namespace NS` (its defaults);
- kopf: bench/kopf_operator.py under `kopf run --namespace NS` (kopf 1.45.2, its defaults);
- floor: no controller; the benchmark creates the same pods itself and waits for them to be
  Running and Ready (the scheduler and kwok set that pace);
- floor+casts: the same, while it also creates the N SpaceCasts (8 more threads, no controller
  to read them): the least the apiserver must take for any controller's job, since every cast
  is created through it before its pod can be.

For N SpaceCasts created at once (8 client threads): seconds until every cast has its pod and
until every status reads Live (the floor: every pod Ready), the controller's CPU seconds and
peak RSS (its process tree, sampled at 20 Hz), its API requests and writes per cast (from the
apiserver's audit log, by user agent; Events counted apart), and its CPU over a quiet minute
afterwards. All pods are the same template (what our controller renders for the cast, with
requests cut to 10m CPU and 16Mi so that 1000 fit on the kwok nodes).

    uv run python -m bench.controller [--sizes 100 1000] [--idle-seconds 60]
    (or: make bench-controller)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.measure import tree_cpu_s, tree_rss, wait
from controller import pod as pod_mod
from controller.kube import JSON, Kube, KubeError
from controller.reconcile import cast_path
from controller.settings import ControllerSettings
from devcluster.client import api_client
from devcluster.cluster import ClusterConfig, ControlPlane
from tests.controller.conftest import cast_manifest, install_crd, make_secret
from tests.peers import peer_env

HERE = Path(__file__).parent
NODES = 25  # 110 pods each: room for 1000 pods twice over while a namespace drains
BENCH_UA = "spacecast-bench"
SMALL = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}


@dataclass
class Row:
    who: str
    casts: int
    to_pods_s: float = 0.0
    to_live_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    requests_per_cast: float = 0.0
    writes_per_cast: float = 0.0
    events_per_cast: float = 0.0
    idle_cpu_pct: float = 0.0
    notes: list[str] = field(default_factory=list)


class Sampler:
    """CPU seconds and peak RSS of a process tree."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def cpu_s(self) -> float:
        return tree_cpu_s(self.pid)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, tree_rss(self.pid))


def template(settings: ControllerSettings) -> JSON:
    cast = cast_manifest("bench", pod={"resources": SMALL})
    cast["metadata"] |= {"namespace": "x", "uid": "0", "generation": 1}
    pod = pod_mod.desired_pod(cast, 0, settings)
    return {"apiVersion": "v1", "kind": "Pod", "spec": pod["spec"]}


def list_items(kube: Kube, path: str) -> list[JSON]:
    return list(kube.request("GET", path).get("items") or [])


def ready(pod: JSON) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def audit_counts(cp: ControlPlane, since: int, agent: str) -> tuple[int, int, int]:
    """(requests, writes of pods and casts, Events written) by clients whose agent starts so."""
    requests = writes = events = 0
    for e in cp.audit.events(since):
        if not e.user_agent.startswith(agent):
            continue
        requests += 1
        if e.verb in ("create", "update", "patch", "delete"):
            if e.resource == "events":
                events += 1
            elif e.resource in ("pods", "spacecasts"):
                writes += 1
    return requests, writes, events


def start_contender(who: str, cp: ControlPlane, ns: str, tpl_file: Path, log: Path) -> Any:
    env = os.environ | {"KUBECONFIG": str(cp.kubeconfig), "BENCH_POD_TEMPLATE": str(tpl_file),
                        "SPACECAST_LOG_FORMAT": "json"}  # fmt: skip
    if who == "spacecast":
        argv = [
            sys.executable,
            "-m",
            "spacecast.cli",
            "controller",
            "--namespace",
            ns,
            "--kubeconfig",
            str(cp.kubeconfig),
            "--metrics-port",
            "0",
            "--metrics-bind",
            "127.0.0.1",
            "--session-image",
            "spacecast/session:bench",
        ]
        env["SPACECAST_CONTROLLER_SESSION_REQUESTS"] = json.dumps(SMALL["requests"])
        env["SPACECAST_CONTROLLER_SESSION_LIMITS"] = json.dumps(SMALL["limits"])
    else:
        kopf = peer_env("kopf", HERE / "envs") / "kopf"
        # --standalone: no KopfPeering CRD is installed (the only departure from its defaults).
        argv = [str(kopf), "run", "--namespace", ns, "--standalone", str(HERE / "kopf_operator.py")]
    with log.open("ab") as out:  # fmt: skip
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def create_casts(kube: Kube, ns: str, n: int) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: kube.request("POST", cast_path(ns), body=cast_manifest(
            f"c{i:04d}", pod={"resources": SMALL})), range(n)))  # fmt: skip


def drop_namespace(kube: Kube, ns: str) -> None:
    """Delete a contender's namespace and wait until it is gone: the garbage collection of
    1000 pods and casts must not run on the next contender's time (it once cost one 10 s)."""
    kube.request("DELETE", f"/api/v1/namespaces/{ns}")

    def gone() -> bool:
        try:
            kube.request("GET", f"/api/v1/namespaces/{ns}")
        except KubeError as exc:
            return exc.status == 404
        return False

    wait("the namespace gone", gone, 600, 0.5)


def run_contender(who: str, n: int, cp: ControlPlane, kube: Kube, tpl: JSON, idle_s: float,
                  workdir: Path) -> Row:  # fmt: skip
    ns = f"bench-{who.replace('+', '-')}-{n}-{int(time.time())}"
    kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    make_secret(kube, ns, "ingest", {"url": "rtmp://ingest.example/app/key"})
    row = Row(who, n)
    pods_path, casts_path = f"/api/v1/namespaces/{ns}/pods", cast_path(ns)
    if who.startswith("floor"):
        since, t0 = cp.audit.mark(), time.monotonic()
        casts = threading.Thread(target=create_casts, args=(kube, ns, n))
        if who == "floor+casts":
            casts.start()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: kube.request("POST", pods_path, body=copy.deepcopy(tpl) | {
                "metadata": {"name": f"c{i:04d}-0"}}), range(n)))  # fmt: skip
        if casts.is_alive():
            casts.join()
        row.to_pods_s = time.monotonic() - t0
        wait("every pod ready", lambda: sum(map(ready, list_items(kube, pods_path))) >= n, 600, 0.5)
        row.to_live_s = time.monotonic() - t0
        requests, writes, _ = audit_counts(cp, since, BENCH_UA)
        row.requests_per_cast, row.writes_per_cast = requests / n, writes / n
        drop_namespace(kube, ns)
        return row
    tpl_file = workdir / "pod-template.json"
    tpl_file.write_text(json.dumps(tpl))
    proc = start_contender(who, cp, ns, tpl_file, workdir / f"{who}-{n}.log")
    time.sleep(3)  # its start-up: imports, first lists (measured apart from the work)
    sampler = Sampler(proc.pid)
    cpu0, since, t0 = sampler.cpu_s(), cp.audit.mark(), time.monotonic()
    create_casts(kube, ns, n)
    wait("a pod per cast", lambda: len(list_items(kube, pods_path)) >= n, 600, 0.2)
    row.to_pods_s = time.monotonic() - t0
    wait("every cast Live", lambda: sum(
        (c.get("status") or {}).get("phase") == "Live" for c in list_items(kube, casts_path)
    ) >= n, 600, 0.5)  # fmt: skip
    row.to_live_s = time.monotonic() - t0
    row.cpu_s = sampler.cpu_s() - cpu0
    time.sleep(2)  # let in-flight writes land in the audit log
    agent = "spacecast-controller" if who == "spacecast" else "kopf"
    requests, writes, events = audit_counts(cp, since, agent)
    if requests == 0:
        row.notes.append("its user agent not found in the audit log")
    row.requests_per_cast, row.writes_per_cast = requests / n, writes / n
    row.events_per_cast = events / n
    idle0, t_idle = sampler.cpu_s(), time.monotonic()
    time.sleep(idle_s)
    row.idle_cpu_pct = 100 * (sampler.cpu_s() - idle0) / (time.monotonic() - t_idle)
    row.peak_rss_mb = sampler.peak / 2**20
    sampler.stop.set()
    drop_namespace(kube, ns)  # while it runs: kopf's finalizers on the casts need kopf
    proc.terminate()
    proc.wait(30)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--only", nargs="+",
                        default=["floor", "floor+casts", "spacecast", "kopf"])  # fmt: skip
    args = parser.parse_args()
    peer_env("kopf", HERE / "envs")  # installed before anything is timed
    settings = ControllerSettings(session_image="spacecast/session:bench",
                                  session_requests=SMALL["requests"],
                                  session_limits=SMALL["limits"])  # fmt: skip
    tpl = template(settings)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-controller-") as tmp,
        ControlPlane(ClusterConfig.full(nodes=NODES)) as cp,
        api_client(cp.kubeconfig) as api,
    ):
        kube = Kube(api, user_agent=BENCH_UA)
        install_crd(kube)
        for n in args.sizes:
            for who in args.only:
                try:
                    rows.append(run_contender(who, n, cp, kube, tpl, args.idle_seconds, Path(tmp)))
                except KubeError as exc:
                    raise SystemExit(f"bench: {who} at {n}: {exc}") from None
                print(json.dumps(rows[-1].__dict__), flush=True)
    show(rows)


def show(rows: list[Row]) -> None:
    table = Table(title="SpaceCast controllers: N casts created at once (2-core machine)")
    for col in ("who", "casts", "to pods s", "to Live s", "CPU s", "peak RSS MB",
                "requests/cast", "writes/cast", "events/cast", "idle CPU %"):  # fmt: skip
        table.add_column(col)
    for r in rows:
        table.add_row(r.who + (f" ({', '.join(r.notes)})" if r.notes else ""), str(r.casts),
                      f"{r.to_pods_s:.2f}", f"{r.to_live_s:.2f}", f"{r.cpu_s:.2f}",
                      f"{r.peak_rss_mb:.0f}", f"{r.requests_per_cast:.1f}",
                      f"{r.writes_per_cast:.2f}", f"{r.events_per_cast:.2f}",
                      f"{r.idle_cpu_pct:.2f}")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
