"""The Helm chart (helm/spacecast) against the real control plane: it lints, every rendering
(default values, every optional part on, both scopes) passes the apiserver's server-side dry
run, its schema refuses bad values with messages that name them, its environment is read by
the controller's own settings as meant, and its RBAC is exactly what the controller needs:
`kubectl auth can-i` both ways, then a controller holding only that token through a burst."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.kube import Kube
from controller.run import Controller
from controller.settings import ControllerSettings
from devcluster import binaries
from devcluster.cluster import ControlPlane
from spacecast.settings import LogSettings, env_name
from tests.controller.conftest import kubectl, make_cast, make_secret, phase_of
from tests.reporting import kube_as
from tests.wait import wait_for

pytestmark = [pytest.mark.slow]
CHART = Path(__file__).resolve().parents[2] / "helm/spacecast"
CRDS = CHART / "crds"
EVERY_OPTION = ["--set", "networkPolicy.enabled=true", "--set", "controller.maxSessions=50",
                "--set", "session.env.SPACECAST_X_BASE_URL=http://simulator:8080",
                "--set", "monitoring.serviceMonitor.enabled=true",
                "--set", "monitoring.podMonitor.enabled=true",
                "--set", "monitoring.prometheusRule.enabled=true",
                "--set", "monitoring.dashboard.enabled=true",
                "--set", "monitoring.labels.release=kube-prometheus",
                "--set", "simulator.enabled=true"]  # fmt: skip
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def helm(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    binary = str(binaries.locate().path("helm"))
    # A home of its own, never the user's: with a cluster, client-go caches discovery in
    # $HOME/.kube (a HOME of /nonexistent was created by it, and broke tests that need it absent).
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp/helm-home", "HELM_CACHE_HOME": "/tmp/helm-cache",
           "HELM_CONFIG_HOME": "/tmp/helm-config", "HELM_DATA_HOME": "/tmp/helm-data"}  # fmt: skip
    done = subprocess.run([binary, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    if check:
        assert done.returncode == 0, done.stderr
    return done


def template(namespace: str, *values: str, release: str = "sc") -> str:
    return helm("template", release, str(CHART), "--namespace", namespace, *values).stdout


def spec_of(name: str, namespace: str, *values: str, release: str = "sc") -> dict[str, Any]:
    """The spec of the one object that templates/NAME.yaml renders."""
    text = template(namespace, *values, "--show-only", f"templates/{name}.yaml", release=release)
    return yaml.safe_load(text)["spec"]  # type: ignore[no-any-return]


def render(namespace: str, *values: str) -> list[dict[str, Any]]:
    """For reading only: PyYAML writes a key `y` back bare, which Kubernetes' YAML (1.1) then
    reads as a boolean, so what is applied is helm's own text."""
    return [doc for doc in yaml.safe_load_all(template(namespace, *values)) if doc]


def the(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("values", [[], EVERY_OPTION, ["--set", "scope=cluster"]],
                         ids=["defaults", "every-option", "cluster-scope"])  # fmt: skip
def test_lint_is_clean(values: list[str]) -> None:
    done = helm("lint", "--strict", str(CHART), *values)
    assert "0 chart(s) failed" in done.stdout, done.stdout


@pytest.mark.parametrize("values", [[], EVERY_OPTION, ["--set", "scope=cluster", *EVERY_OPTION]],
                         ids=["defaults", "every-option", "cluster-scope"])  # fmt: skip
def test_every_rendering_passes_a_server_side_dry_run(
    control_plane: ControlPlane,
    k8s_namespace: str,
    values: list[str],
    tmp_path: Path,
    monitoring_crds: None,
    kube: Kube,
) -> None:
    """`kube` installs the SpaceCast CRD for real: `helm test`'s SpaceCast is in the dry run."""
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(template(k8s_namespace, *values, "--include-crds"))
    docs = render(k8s_namespace, *values, "--include-crds")
    done = kubectl(control_plane, "apply", "--dry-run=server", "-n", k8s_namespace,
                   "-f", str(manifest))  # fmt: skip
    assert done.returncode == 0, done.stderr
    kinds = {d["kind"] for d in docs}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount", "PodDisruptionBudget",
            "Service"} <= kinds  # fmt: skip
    if values:
        assert {"NetworkPolicy", "ConfigMap", "SpaceCast"} | MONITORING_KINDS <= kinds
        tests = [d for d in docs if (d["metadata"].get("annotations") or {}).get("helm.sh/hook")]
        assert {d["kind"] for d in tests} == {"Secret", "SpaceCast", "ServiceAccount", "Role",
                                              "RoleBinding", "Pod"}  # fmt: skip
    else:
        assert not kinds & (MONITORING_KINDS | {"SpaceCast"})  # opt-in


@pytest.fixture
def monitoring_crds(control_plane: ControlPlane) -> None:
    """prometheus-operator's CRDs (generated from its Go API module by devcluster/build.sh), so
    the dry run checks the chart's monitors and rules against their real schema."""
    crds = str(binaries.locate().path("monitoring-crds.yaml"))
    done = kubectl(control_plane, "apply", "--server-side", "-f", crds)
    assert done.returncode == 0, done.stderr
    done = kubectl(control_plane, "wait", "--for=condition=Established", "--timeout=30s",
                   "crd/podmonitors.monitoring.coreos.com",
                   "crd/servicemonitors.monitoring.coreos.com",
                   "crd/prometheusrules.monitoring.coreos.com")  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("value", "says"), [
    ("replicas=0", "at '/replicas': minimum: got 0, want 1"),
    ("replicas=two", "at '/replicas'"),
    ("scope=global", "at '/scope': value must be one of 'namespaced', 'cluster'"),
    ("replica=2", "additional properties 'replica' not allowed"),
    ("session.requests.cpu=lots", "at '/session/requests/cpu': 'lots' does not match"),
    ("session.env.PATH=/tmp", "at '/session/env': additional properties 'PATH' not allowed"),
    ("controller.workers=1000", "at '/controller/workers': maximum: got 1,000, want 64"),
    ("session.serviceAccount.name=Not_A_Name", "at '/session/serviceAccount/name'"),
    ("networkPolicy.rtmpPorts={70000}", "at '/networkPolicy/rtmpPorts/0'"),
    ("monitoring.prometheusRule.for.silent=2 minutes",
     "at '/monitoring/prometheusRule/for/silent': '2 minutes' does not match"),
    ("monitoring.podMonitor.interval=often", "at '/monitoring/podMonitor/interval'"),
    ("simulator.space=https://x.com/i/spaces/1", "at '/simulator/space'"),
    ("monitoring.prometheusRule.encoderSpeedBelow=2",
     "at '/monitoring/prometheusRule/encoderSpeedBelow': maximum: got 2, want 1"),
])  # fmt: skip
def test_the_schema_refuses_bad_values_by_name(value: str, says: str) -> None:
    done = helm("template", "sc", str(CHART), "--set", value, check=False)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr


# Not the defaults, and from a values file, whose numbers are floats to helm (1000000 printed
# as 1e+06 once, which the controller's settings refuse).
OWN_VALUES = """
controller: {workers: 7, maxSessions: 1000000, resyncSeconds: 90.5, metricsPort: 8181,
             logLevel: debug}
session:
  requests: {cpu: 900m, memory: 1500Mi}
  podSecurityContext: {runAsUser: null, runAsGroup: null, fsGroup: null}  # as on OpenShift
  env: {SPACECAST_X_BASE_URL: "http://simulator:8080"}
  serviceAccount: {create: false, name: casting}
"""


def test_the_controllers_environment_is_read_as_meant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every variable the Deployment sets is a setting of the controller or of its logs, under
    that one's own prefix (a misspelt one would be ignored, silently), and the settings read
    from them are the chart's values."""
    (tmp_path / "values.yaml").write_text(OWN_VALUES)
    docs = render("casts", "-f", str(tmp_path / "values.yaml"))
    container = the(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    known = {env_name(ControllerSettings, f) for f in ControllerSettings.model_fields}
    known |= {env_name(LogSettings, f) for f in LogSettings.model_fields}
    for var in container["env"]:
        assert var["name"] in known, var["name"]
        monkeypatch.setenv(var["name"], var["value"])
    settings, logs = ControllerSettings(), LogSettings()
    assert (settings.namespace, settings.leader_elect, settings.lease_name) == (
        "casts", True, "sc-spacecast")  # fmt: skip
    assert (settings.workers, settings.max_sessions, settings.resync_seconds) == (7, 1000000, 90.5)
    assert settings.metrics_port == 8181 and (logs.log_level, logs.log_format) == ("debug", "json")
    assert settings.session_requests == {"cpu": "900m", "memory": "1500Mi"}
    assert settings.session_pod_security_context == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert settings.session_security_context["readOnlyRootFilesystem"] is True  # the default
    assert settings.session_env == {"SPACECAST_X_BASE_URL": "http://simulator:8080"}
    assert settings.session_service_account == "casting"
    assert "ServiceAccount" not in {d["kind"] for d in docs if d["metadata"]["name"] == "casting"}


def test_with_the_simulator_on_the_sessions_find_x_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render("casts", "--set", "simulator.enabled=true",
                  "--set", "session.env.SPACECAST_LOG_LEVEL=debug")  # fmt: skip
    (controller,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] ==
                     "sc-spacecast"]  # fmt: skip
    for var in controller["spec"]["template"]["spec"]["containers"][0]["env"]:
        monkeypatch.setenv(var["name"], var["value"])
    simulator = "http://sc-spacecast-simulator:8080"
    assert ControllerSettings().session_env == {"SPACECAST_LOG_LEVEL": "debug",
        "SPACECAST_X_BASE_URL": simulator, "SPACECAST_X_API_BASE_URL": simulator}  # fmt: skip
    service = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] ==
               "sc-spacecast-simulator"]  # fmt: skip
    assert {p["port"] for p in service[0]["spec"]["ports"]} == {8080, 8443, 1935}


# What the controller does (controller/run.py, reconcile.py, leader.py), then what it must not.
NEEDED = [("list", "spacecasts.spacecast.dev"), ("watch", "spacecasts.spacecast.dev"),
          ("patch", "spacecasts.spacecast.dev", "--subresource=status"),
          ("create", "pods"), ("delete", "pods"), ("get", "pods"), ("watch", "pods"),
          ("list", "secrets"), ("watch", "secrets"), ("create", "events"), ("watch", "events"),
          ("update", "spacecasts.spacecast.dev", "--subresource=finalizers"),
          ("list", "pods"), ("list", "events"), ("get", "leases.coordination.k8s.io/sc-spacecast"),
          ("create", "leases.coordination.k8s.io"),
          ("update", "leases.coordination.k8s.io/sc-spacecast")]  # fmt: skip
FORBIDDEN = [("get", "secrets"), ("create", "secrets"), ("update", "spacecasts.spacecast.dev"),
             ("delete", "spacecasts.spacecast.dev"), ("patch", "pods"),
             ("create", "pods", "--subresource=exec"),
             ("update", "leases.coordination.k8s.io/another-lease"), ("create", "configmaps"),
             ("create", "serviceaccounts"),
             ("create", "rolebindings.rbac.authorization.k8s.io")]  # fmt: skip


def can_i(cp: ControlPlane, user: str, namespace: str, verb: str, what: str, *more: str) -> bool:
    done = kubectl(cp, "auth", "can-i", verb, what, *more, "-n", namespace, "--as", user)
    assert done.stdout.strip() in ("yes", "no"), done.stderr
    return done.stdout.strip() == "yes"


def install_rbac(cp: ControlPlane, namespace: str, tmp_path: Path, *values: str) -> list[str]:
    """Apply the chart's accounts and RBAC for real; returns the cluster-wide objects made."""
    docs = [d for d in render(namespace, *values)
            if d["kind"] in ("ServiceAccount", "Role", "RoleBinding", "ClusterRole",
                             "ClusterRoleBinding")]  # fmt: skip
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    done = kubectl(cp, "apply", "-n", namespace, "-f", str(manifest))
    assert done.returncode == 0, done.stderr
    return [f"{d['kind'].lower()}/{d['metadata']['name']}" for d in docs
            if d["kind"].startswith("Cluster")]  # fmt: skip


@pytest.mark.parametrize("scope", ["namespaced", "cluster"])
def test_rbac_allows_what_the_controller_does_and_nothing_more(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, tmp_path: Path, scope: str
) -> None:
    ns, elsewhere = k8s_namespace, "default"
    cluster_wide = install_rbac(control_plane, ns, tmp_path, "--set", f"scope={scope}")
    user = f"system:serviceaccount:{ns}:sc-spacecast"
    try:
        for verb, what, *more in NEEDED:
            assert can_i(control_plane, user, ns, verb, what, *more), (verb, what)
        for verb, what, *more in FORBIDDEN:
            assert not can_i(control_plane, user, ns, verb, what, *more), (verb, what, *more)
        # Beyond the release's namespace: only with the cluster scope, and never the Lease.
        assert can_i(control_plane, user, elsewhere, "create", "pods") is (scope == "cluster")
        assert not can_i(control_plane, user, elsewhere, "create", "leases.coordination.k8s.io")
        session = f"system:serviceaccount:{ns}:spacecast-session"
        assert can_i(control_plane, session, ns, "create", "events")
        assert not can_i(control_plane, session, ns, "list", "events")
        assert not can_i(control_plane, session, ns, "get", "secrets")
    finally:
        for obj in cluster_wide:
            kubectl(control_plane, "delete", obj)


@pytest.mark.control_plane(full=True)
def test_a_controller_with_only_the_charts_token_runs_a_burst(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The chart's settings and RBAC, a token of its ServiceAccount, 30 casts at once: every
    one goes Live, and the apiserver refused the controller nothing."""
    ns = k8s_namespace
    install_rbac(control_plane, ns, tmp_path)
    token = kube.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/sc-spacecast/token",
                         body={"spec": {"expirationSeconds": 3600}})["status"]["token"]  # fmt: skip
    (tmp_path / "token").write_text(token)
    container = the(render(ns), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for var in container["env"]:
        monkeypatch.setenv(var["name"], var["value"])
    settings = ControllerSettings(metrics_port=0, metrics_bind="127.0.0.1")
    since = control_plane.audit.mark()
    make_secret(kube, ns, "ingest", {"url": "rtmp://ingest.example/app/KEY"})
    small = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
    names = [f"c{i:02d}" for i in range(30)]
    for name in names:
        make_cast(kube, ns, name, pod={"resources": small})
    as_chart = kube_as(control_plane, tmp_path / "token", user_agent="spacecast-controller")
    controller = Controller(as_chart, settings)
    controller.serve()
    controller.start()
    try:
        wait_for("every cast Live",
                 lambda: all(phase_of(kube, ns, n) == "Live" for n in names), 120)  # fmt: skip
    finally:
        controller.shutdown()
        as_chart.api.close()
    refused = [(e.verb, e.resource, e.code) for e in control_plane.audit.events(since)
               if e.user_agent.startswith("spacecast-controller") and e.code == 403]  # fmt: skip
    assert refused == []
    assert control_plane.audit.count(since, user=f"system:serviceaccount:{ns}:sc-spacecast") > 0
