"""The session pod a SpaceCast wants: a pure function of the cast, the attempt and the
controller's settings.

Secrets stay secrets: the destinations and the cookies are projected from their Secrets as
files (one file per destination, named by its index, so the session's destination indexes are
the spec's), and the pod spec holds only their names. The session reads every setting from
`SPACECAST_SESSION_*` variables, rendered from `SessionSettings` so a name cannot drift, and
validated by that model before any pod exists.

The pod is locked down as the session allows: non-root (the image's uid 10001), no privilege
escalation, no capabilities, seccomp RuntimeDefault, a read-only root with writable emptyDirs
for /tmp (X sockets, the runtime dir) and the home (Chromium's profile and NSS database), and a
memory-backed /dev/shm for Chromium.

The one token a session gets is its ServiceAccount's (`session_service_account`), which may
only create Events: the session reports its live facts (audio source, silence) as Events about
its cast (`spacecast.session.report`). It reads nothing from the API. With no such account
set, the pod gets no token at all.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from controller import api
from controller.settings import ControllerSettings
from spacecast.session.settings import SessionSettings
from spacecast.settings import env_name

SECRETS_DIR = "/var/run/spacecast"
DESTINATIONS_DIR = f"{SECRETS_DIR}/destinations"
COOKIES_FILE = f"{SECRETS_DIR}/cookies"
HOME = "/home/spacecast"
METRICS_PORT_NAME = "metrics"
# The session flushes the pusher for up to 5 s, then stops its processes (each up to 5 s);
# the rest is margin for the summary, so SIGKILL never cuts it off.
TERMINATION_GRACE_S = 30
MAX_NAME = 253


class _FromSpec(SessionSettings):
    """SessionSettings from the spec alone: the controller's own environment must not leak
    into every pod (nor change every pod's hash)."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: Any, init_settings: Any, *_: Any, **__: Any
    ) -> Any:
        return (init_settings,)


class InvalidCast(ValueError):
    """The spec cannot become a pod; the message names the field."""


def pod_name(cast_name: str, attempt: int) -> str:
    """`<cast>-<attempt>`; a name too long for that is cut and made unique by a hash."""
    suffix = f"-{attempt}"
    if len(cast_name) + len(suffix) <= MAX_NAME:
        return cast_name + suffix
    digest = hashlib.sha256(cast_name.encode()).hexdigest()[:8]
    return f"{cast_name[: MAX_NAME - len(suffix) - 9]}-{digest}{suffix}"


def session_settings(
    spec: api.SpaceCastSpec, settings: ControllerSettings, report: tuple[str, str] | None = None
) -> SessionSettings:
    """The session's settings for this cast, checked by the session's own model. `report`:
    the cast's `namespace/name` and uid, when the session reports its live facts."""
    audio, video = spec.audio, spec.video
    values: dict[str, Any] = {
        "space": spec.space,
        "destinations_file": DESTINATIONS_DIR,
        "cookies_file": COOKIES_FILE if spec.cookies_secret_ref else None,
        "width": video.width,
        "height": video.height,
        "fps": video.fps,
        "max_kbps": video.max_kbps,
        "silence_db": audio.silence_db,
        "silence_seconds": 1.0 if audio.source == "hls" else audio.rescue_after_seconds,
        "starved_seconds": 1.0 if audio.source == "hls" else 5.0,
        "rescue": audio.source != "browser",
        "metrics_port": settings.session_metrics_port,
    }
    if report:
        values["report_cast"], values["report_cast_uid"] = report
    if crop := video.crop:
        values["crop"] = f"{crop.width}x{crop.height}+{crop.x}+{crop.y}"
    try:
        return _FromSpec(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidCast(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def session_env(session: SessionSettings, settings: ControllerSettings) -> list[dict[str, Any]]:
    """Every session setting that differs from its default, as an environment variable."""
    env: list[dict[str, Any]] = [
        {"name": env_name(SessionSettings, name), "value": _env_value(value)}
        for name, value in session.model_dump().items()
        if value != SessionSettings.model_fields[name].default and value is not None
    ]
    env += [{"name": k, "value": v} for k, v in sorted(settings.session_env.items())]
    if session.report_cast:  # the reporter names its pod (the Events' reportingInstance)
        env.append({"name": env_name(SessionSettings, "report_pod"),
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})  # fmt: skip
    return env


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _secret_volume(spec: api.SpaceCastSpec) -> dict[str, Any]:
    sources = [
        {
            "secret": {
                "name": d.secret_ref.name,
                "items": [{"key": d.secret_ref.key, "path": f"destinations/{i}"}],
            }
        }
        for i, d in enumerate(spec.destinations)
    ]
    if ref := spec.cookies_secret_ref:
        sources.append(
            {"secret": {"name": ref.name, "items": [{"key": ref.key, "path": "cookies"}]}}
        )
    return {"name": "secrets", "projected": {"sources": sources, "defaultMode": 0o440}}


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": METRICS_PORT_NAME},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def _container(
    spec: api.SpaceCastSpec, session: SessionSettings, settings: ControllerSettings
) -> dict[str, Any]:
    resources = spec.pod.resources
    return {
        "name": "session",
        "image": spec.pod.image or settings.session_image,
        "args": ["session"],
        "env": session_env(session, settings),
        "ports": [{"name": METRICS_PORT_NAME, "containerPort": session.metrics_port}],
        "resources": {
            "requests": (resources and resources.requests) or dict(settings.session_requests),
            "limits": (resources and resources.limits) or dict(settings.session_limits),
        },
        # Chromium joins and the encoder starts within about 5 s; 60 s covers a slow node.
        "startupProbe": _probe("/healthz", 2, 30),
        "livenessProbe": _probe("/healthz", 10, 3),
        "readinessProbe": _probe("/readyz", 5, 2),
        "terminationMessagePolicy": "File",
        "securityContext": settings.session_security_context,
        "volumeMounts": [
            {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True},
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "home", "mountPath": HOME},
        ],
    }


def desired_pod(
    cast: dict[str, Any], attempt: int, settings: ControllerSettings, deadline_s: int | None = None
) -> dict[str, Any]:
    """The pod for this attempt of the cast. Raises InvalidCast when the spec cannot run.
    `deadline_s`: what is left of the cast's maximum duration; the kubelet stops the pod
    gracefully then (its SIGTERM; the cast Completes). Left out of the spec's hash, so the
    time going by never looks like a spec change."""
    meta = cast["metadata"]
    spec = api.parse_spec(cast)
    account = settings.session_service_account
    report = (f"{meta['namespace']}/{meta['name']}", meta["uid"]) if account else None
    session = session_settings(spec, settings, report)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",  # the controller decides about retries, by exit class
        # The kubelet's projected token (an hour, rotated) and the API's CA, at the standard
        # path the reporter reads: only for the Events-only account.
        "automountServiceAccountToken": bool(account),
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
        "securityContext": settings.session_pod_security_context,
        "containers": [_container(spec, session, settings)],
        "volumes": [
            _secret_volume(spec),
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": settings.shm_size}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "home", "emptyDir": {}},
        ],
    }
    if account:
        pod_spec["serviceAccountName"] = account
    if spec.pod.node_selector:
        pod_spec["nodeSelector"] = spec.pod.node_selector
    if spec.pod.tolerations:
        pod_spec["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in spec.pod.tolerations
        ]
    if spec.pod.priority_class_name:
        pod_spec["priorityClassName"] = spec.pod.priority_class_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(meta["name"], attempt),
            "namespace": meta["namespace"],
            "labels": {
                "app.kubernetes.io/name": "spacecast-session",
                "app.kubernetes.io/managed-by": api.MANAGED_BY,
                api.ATTEMPT_LABEL: str(attempt),
            },
            "annotations": {api.SPEC_HASH_ANNOTATION: spec_hash(pod_spec)},
            "ownerReferences": [
                {
                    "apiVersion": api.API_VERSION,
                    "kind": api.KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": pod_spec | ({"activeDeadlineSeconds": deadline_s} if deadline_s else {}),
    }


def spec_hash(pod_spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(pod_spec, sort_keys=True).encode()).hexdigest()[:16]
