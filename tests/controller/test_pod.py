"""The session pod as rendered (a pure function), and as the apiserver accepts it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller import api, pod
from controller.kube import Kube
from controller.settings import ControllerSettings
from spacecast.session.settings import SessionSettings

from .conftest import cast_manifest

SETTINGS = ControllerSettings(session_image="spacecast/session:test")


def cast(name: str = "talk", **spec: Any) -> dict[str, Any]:
    manifest = cast_manifest(name, **spec)
    manifest["metadata"] |= {"namespace": "casts", "uid": "0000-1111", "generation": 1}
    return manifest


def render(**spec: Any) -> dict[str, Any]:
    return pod.desired_pod(cast(**spec), 0, SETTINGS)


def env_of(p: dict[str, Any]) -> dict[str, str]:
    """Values, and fields of the pod for what comes from the downward API."""
    return {
        e["name"]: e["value"] if "value" in e else "fieldRef:" + e["valueFrom"]["fieldRef"][
            "fieldPath"] for e in p["spec"]["containers"][0]["env"]
    }  # fmt: skip


def test_locked_down() -> None:
    p = render()
    spec, container = p["spec"], p["spec"]["containers"][0]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/var/run/spacecast": "secrets", "/dev/shm": "shm", "/tmp": "tmp",
                      "/home/spacecast": "home"}  # fmt: skip
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {c["name"]: c["readinessProbe"]["httpGet"]["path"] for c in spec["containers"]} == {
        "session": "/readyz"
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"] == [{"name": "metrics", "containerPort": 9090}]
    owner = p["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["controller"], owner["blockOwnerDeletion"]) == (
        "SpaceCast", True, True,
    )  # fmt: skip


def test_the_security_contexts_are_settings_taken_whole() -> None:
    """Where the platform assigns users (OpenShift's restricted SCC), runAsUser must go."""
    platform = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    hardened = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    settings = SETTINGS.model_copy(update={"session_pod_security_context": platform,
                                           "session_security_context": hardened})  # fmt: skip
    p = pod.desired_pod(cast(), 0, settings)
    assert p["spec"]["securityContext"] == platform
    assert p["spec"]["containers"][0]["securityContext"] == hardened
    assert render()["spec"]["securityContext"]["runAsUser"] == 10001  # the image's user


def test_the_only_token_is_the_reporting_accounts() -> None:
    """The session's ServiceAccount (Events only, tests/session/test_report.py) and what the
    reporter needs to name its cast and itself; with no account, no token and no reports."""
    p = render()
    assert p["spec"]["serviceAccountName"] == "spacecast-session"
    assert p["spec"]["automountServiceAccountToken"] is True
    env = env_of(p)
    assert env["SPACECAST_SESSION_REPORT_CAST"] == "casts/talk"
    assert env["SPACECAST_SESSION_REPORT_CAST_UID"] == "0000-1111"
    assert env["SPACECAST_SESSION_REPORT_POD"] == "fieldRef:metadata.name"
    quiet = pod.desired_pod(cast(), 0, SETTINGS.model_copy(update={"session_service_account": ""}))
    assert quiet["spec"]["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in quiet["spec"]
    assert not [n for n in env_of(quiet) if "REPORT" in n]


def test_secrets_are_files_named_by_index() -> None:
    p = render(
        destinations=[{"secretRef": {"name": "yt", "key": "url"}},
                      {"secretRef": {"name": "x", "key": "periscope"}}],
        cookiesSecretRef={"name": "burner", "key": "cookies.txt"},
    )  # fmt: skip
    sources = next(v for v in p["spec"]["volumes"] if v["name"] == "secrets")["projected"]
    items = [(s["secret"]["name"], s["secret"]["items"]) for s in sources["sources"]]
    assert items == [
        ("yt", [{"key": "url", "path": "destinations/0"}]),
        ("x", [{"key": "periscope", "path": "destinations/1"}]),
        ("burner", [{"key": "cookies.txt", "path": "cookies"}]),
    ]
    env = env_of(p)
    assert env["SPACECAST_SESSION_DESTINATIONS_FILE"] == "/var/run/spacecast/destinations"
    assert env["SPACECAST_SESSION_COOKIES_FILE"] == "/var/run/spacecast/cookies"


def test_every_variable_is_a_session_setting() -> None:
    env = env_of(render(video={"width": 640, "height": 360, "crop": {"x": 0, "y": 0,
                       "width": 320, "height": 180}}, audio={"source": "browser"}))  # fmt: skip
    names = {f"SPACECAST_SESSION_{n.upper()}" for n in SessionSettings.model_fields}
    assert set(env) <= names, set(env) - names
    assert env["SPACECAST_SESSION_SPACE"] == "1AudioSpace01"
    assert env["SPACECAST_SESSION_CROP"] == "320x180+0+0"
    assert env["SPACECAST_SESSION_RESCUE"] == "false"
    back = SessionSettings.model_validate(
        {k.removeprefix("SPACECAST_SESSION_").lower(): v for k, v in env.items()
         if not v.startswith("fieldRef:")}
    )  # fmt: skip
    assert (back.width, back.height, back.rescue) == (640, 360, False)


def test_no_secret_value_anywhere() -> None:
    text = json.dumps(render())
    assert "rtmp://" not in text and "auth_token" not in text


def test_a_spec_change_changes_the_hash_and_the_attempt_the_name() -> None:
    a, b = render(), render(video={"fps": 25})
    key = api.SPEC_HASH_ANNOTATION
    assert a["metadata"]["annotations"][key] != b["metadata"]["annotations"][key]
    assert pod.desired_pod(cast(), 3, SETTINGS)["metadata"]["name"] == "talk-3"
    long = pod.pod_name("c" * 253, 12)
    assert len(long) <= 253 and long.endswith("-12") and long != pod.pod_name("c" * 252 + "d", 12)


def test_what_is_left_of_the_max_duration_is_the_deadline_not_in_the_hash() -> None:
    key = api.SPEC_HASH_ANNOTATION
    p = pod.desired_pod(cast(limits={"maxDurationSeconds": 3600}), 0, SETTINGS, deadline_s=1200)
    q = pod.desired_pod(cast(limits={"maxDurationSeconds": 3600}), 0, SETTINGS, deadline_s=300)
    assert p["spec"]["activeDeadlineSeconds"] == 1200
    assert p["metadata"]["annotations"][key] == q["metadata"]["annotations"][key]
    assert "activeDeadlineSeconds" not in render()["spec"]


def test_the_controllers_environment_stays_out_of_the_pods(monkeypatch: pytest.MonkeyPatch) -> None:
    before = render()
    monkeypatch.setenv("SPACECAST_SESSION_PRESET", "ultrafast")
    after = render()
    assert "SPACECAST_SESSION_PRESET" not in env_of(after)
    assert before["metadata"]["annotations"] == after["metadata"]["annotations"]


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"video": {"width": 3840, "height": 2160, "fps": 60, "maxKbps": 20000}},
        {"pod": {"image": "registry.example/s:1", "nodeSelector": {"media": "yes"},
                 "tolerations": [{"key": "media", "operator": "Exists", "effect": "NoSchedule"}],
                 "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "3Gi"}}}},
        {"limits": {"maxDurationSeconds": 60}, "audio": {"source": "hls"}},
    ],
)  # fmt: skip
def test_the_apiserver_accepts_the_pod(
    kube: Kube, k8s_namespace: str, spec: dict[str, Any]
) -> None:
    p = render(**spec)
    p["metadata"]["namespace"] = k8s_namespace
    p["metadata"].pop("ownerReferences")  # the owner does not exist here
    created = kube.request(
        "POST", f"/api/v1/namespaces/{k8s_namespace}/pods", {"dryRun": "All"}, body=p
    )
    assert created["spec"]["containers"][0]["image"] == p["spec"]["containers"][0]["image"]
