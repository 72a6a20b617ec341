"""What the controller is told, as flags (`--namespace`) or environment
(`SPACECAST_CONTROLLER_NAMESPACE`). Each timing says where its default comes from."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from spacecast.settings import ENV_PREFIX, SpacecastSettings

NAMESPACE = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # a DNS label, as Kubernetes requires
OBJECT_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"  # a DNS subdomain


class ControllerSettings(SpacecastSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "CONTROLLER_", extra="ignore")

    kubeconfig: str | None = Field(
        None, description="Kubeconfig file (default: in-cluster, else KUBECONFIG)."
    )
    namespace: str | None = Field(
        None, pattern=NAMESPACE, description="Watch only this namespace (default: every one)."
    )

    # The session pods.
    session_image: str = Field(
        "ghcr.io/spacecast/session:0.1.0", description="The session image, unless a cast names one."
    )
    session_requests: dict[str, str] = Field(
        {"cpu": "1", "memory": "1Gi"},
        description="Session requests: a session pod on the real node measures about 1 core "
        "and 380 MiB working set (bench/session.py: 0.81 cores, 750 MiB PSS).",
    )
    session_limits: dict[str, str] = Field(
        {"memory": "2Gi"}, description="Session limits (no CPU limit: throttling drops frames)."
    )
    session_pod_security_context: dict[str, Any] = Field(
        {"runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001, "runAsNonRoot": True,
         "seccompProfile": {"type": "RuntimeDefault"}},
        description="The session pods' securityContext, whole (e.g. without runAsUser where the "
        "platform assigns users, as OpenShift does).",
    )  # fmt: skip
    session_security_context: dict[str, Any] = Field(
        {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
         "capabilities": {"drop": ["ALL"]}},
        description="The session container's securityContext, whole.",
    )  # fmt: skip
    shm_size: str = Field("1Gi", description="Size of the memory-backed /dev/shm (Chromium).")
    session_metrics_port: int = Field(9090, ge=1, le=65535, description="The session's port.")
    session_service_account: str = Field(
        "spacecast-session",
        pattern=r"^$|" + OBJECT_NAME[1:],
        description="The sessions' ServiceAccount, allowed only to create Events: each session "
        "reports its audio source and silence as Events about its cast (empty: no token, no "
        "reports; the status learns the audio source when the session ends).",
    )
    session_env: dict[str, str] = Field(
        {}, description="More SPACECAST_* variables for every session (e.g. X's addresses)."
    )

    # Lifecycle.
    restart_backoff_seconds: float = Field(
        10.0, gt=0, description="First delay before a new pod after a transient failure."
    )
    restart_backoff_max_seconds: float = Field(
        300.0, gt=0, description="Cap of that delay, which doubles with each restart."
    )

    # Watching and the queue.
    workers: int = Field(
        12, ge=1, le=64,
        description="Concurrent reconciles: each mostly waits on the apiserver (a pod, a status).",
    )  # fmt: skip
    watch_timeout_seconds: int = Field(
        300,
        ge=10,
        description="Server-side timeout of each watch; client-go spreads 5-10 min likewise.",
    )
    inactivity_timeout_seconds: float = Field(
        75.0,
        gt=0,
        description="A watch silent this long is dropped and reopened: bookmarks come about "
        "every 60 s, so only a dead stream stays silent longer.",
    )
    resync_seconds: float = Field(
        600.0, gt=0, description="Every cast is reconciled at least this often."
    )
    # Leader election (coordination.k8s.io Lease); the durations are client-go's defaults.
    leader_elect: bool = Field(False, description="Reconcile only while holding the Lease.")
    lease_namespace: str = Field("default", pattern=NAMESPACE, description="The Lease's namespace.")
    lease_name: str = Field(
        "spacecast-controller", pattern=OBJECT_NAME, description="Name of the Lease."
    )
    lease_seconds: float = Field(
        15.0, gt=0, description="A Lease not renewed this long is free for another replica."
    )
    renew_deadline_seconds: float = Field(
        10.0, gt=0, description="A leader that cannot renew this long stops reconciling."
    )
    retry_seconds: float = Field(2.0, gt=0, description="How often to try to acquire or renew.")
    max_sessions: int | None = Field(
        None, ge=1, description="Session pods at most; casts beyond wait in Pending, oldest first."
    )
    metrics_bind: str = Field("0.0.0.0", description="Address of /metrics, /healthz, /readyz.")
    metrics_port: int = Field(8080, ge=0, le=65535, description="Port of the same.")

    @field_validator("session_env")
    @classmethod
    def _only_spacecast_variables(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [k for k in env if not k.startswith(ENV_PREFIX)]
        if bad:
            raise ValueError(f"only {ENV_PREFIX}* variables: {', '.join(sorted(bad))}")
        return env
