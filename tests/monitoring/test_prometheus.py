"""The chart's alerts and dashboard against the real thing: a real Prometheus loads the chart's
rules (short `for` values) and scrapes a real session casting the simulator, relabelled as the
chart's PodMonitor does, and a controller. The silent-cast and silent-bitrate alerts fire when
the Space falls silent (the simulator's lever) and resolve when speech returns; every dashboard
panel's query returns data during the cast."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.kube import Kube
from monitoring.dashboard import build, queries
from tests.controller.conftest import StartController, make_cast, make_secret
from tests.helm.test_chart import spec_of
from tests.session.conftest import CastRun, MakeSim, StartCast, cast_sim, space_lever
from tests.wait import wait_for

from .prometheus import Job, Prometheus

pytestmark = [pytest.mark.slow]
SPACE = "1AudioSpace08"
SHORT = [f"--set=monitoring.prometheusRule.for.{name}=5s" for name in ("silent", "silentBitrate")]
SILENT_ALERTS = {"SpaceCastSilent", "SpaceCastSilentBitrate"}
# Grafana's variables, as "All" and a short range fill them in.
DASHBOARD_VARIABLES = {"$namespace": ".*", "$spacecast": ".*", "$__rate_interval": "1m",
                       "$__range": "5m", "$__interval": "15s"}  # fmt: skip


def chart(kind: str, *values: str) -> dict[str, Any]:
    return spec_of(kind, "casts", "--set", "monitoring.prometheusRule.enabled=true",
                   "--set", "monitoring.podMonitor.enabled=true",
                   "--set", "monitoring.serviceMonitor.enabled=true", *values)  # fmt: skip


Running = tuple[Prometheus, Any, CastRun]


@pytest.fixture
def prometheus(tmp_path: Path, make_sim: MakeSim, cast: StartCast, kube: Kube,
               k8s_namespace: str, controller: StartController) -> Iterator[Running]:  # fmt: skip
    sim = cast_sim(make_sim, f"kind=audio,id={SPACE},start=-30,duration=0")
    run = cast(sim, SPACE, display=168)
    make_secret(kube, k8s_namespace, "ingest", {"url": "rtmp://ingest.example/app/KEY"})
    make_cast(kube, k8s_namespace, "fleet")  # the controller's per-cast series
    ctl = controller()
    assert ctl.server is not None
    relabel = chart("podmonitor")["podMetricsEndpoints"][0]["relabelings"]
    # What Kubernetes discovery would say of the session's pod; the chart's relabeling does
    # the rest, as in a cluster.
    pod = {"__meta_kubernetes_pod_controller_kind": "SpaceCast",
           "__meta_kubernetes_pod_controller_name": "talk",
           "__meta_kubernetes_namespace": "casts", "pod": "talk-0"}  # fmt: skip
    jobs = [
        Job("casts/sc-spacecast-sessions", f"127.0.0.1:{run.metrics_port}", pod, relabel),
        Job("sc-spacecast-metrics", f"127.0.0.1:{ctl.server.server_address[1]}",
            {"namespace": "casts", "pod": "sc-spacecast-0"}),
    ]  # fmt: skip
    prom = Prometheus(tmp_path / "prometheus", jobs, chart("prometheusrule", *SHORT)).start()
    yield prom, sim, run
    prom.stop()


def fill(expr: str) -> str:
    return re.sub(r"\$\w+", lambda m: DASHBOARD_VARIABLES.get(m[0], m[0]), expr)


def test_silence_fires_the_alerts_and_speech_resolves_them(prometheus: Running) -> None:
    prom, sim, run = prometheus
    wait_for("the session ready", run.ready, 60)
    speaking = 'spacecast_push_bitrate_bits_per_second{namespace="casts",spacecast="talk"} > 1e6'
    wait_for("speech's bitrate in Prometheus, labelled with the cast", lambda: prom.query(speaking),
             60)  # fmt: skip

    # Every panel has data while the cast runs (the controller's fleet panels too); a rate()
    # needs two scrapes of its counter first.
    def empty() -> list[str]:
        return [q for q in queries(build()) if not prom.query(fill(q))]

    try:
        wait_for("data in every panel", lambda: not empty(), 30)
    except AssertionError:
        raise AssertionError(f"panels with no data: {empty()}") from None
    assert not prom.firing() & {(a, "talk") for a in SILENT_ALERTS}

    space_lever(sim, SPACE, "silence")
    wait_for("both silence alerts firing for the cast",
             lambda: {(a, "talk") for a in SILENT_ALERTS} <= prom.firing(), 90)  # fmt: skip
    space_lever(sim, SPACE, "speak")
    wait_for("both resolved once speech returns",
             lambda: not prom.firing() & {(a, "talk") for a in SILENT_ALERTS}, 90)  # fmt: skip
