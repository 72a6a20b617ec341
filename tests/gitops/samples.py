"""SpaceCasts in every phase, their status written by the controller's own status builder
(controller/status.py), for the GitOps health checks' tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.status import _status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def cast(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "spacecast.dev/v1alpha1", "kind": "SpaceCast",
        "metadata": {"name": "weekly", "namespace": "casts", "generation": generation},
        "spec": {"space": "https://x.com/i/spaces/1OdJrXyZaBcDe"},
    }  # fmt: skip
    if status is not None:
        obj["status"] = status
    return obj


def phase(name: str, reason: str, message: str, gen: int = 1) -> dict[str, Any]:
    return _status({}, gen, NOW, name, reason, message, podName="weekly-0")


# One cast per phase the controller writes, by name (a Pending one each way it waits).
PHASES = {
    "waiting for a slot": phase("Pending", "WaitingForCapacity", "waiting for a free session slot"),
    "waiting for a Secret": phase("Pending", "SecretMissing", "Secret ingest has no key url"),
    "starting": phase("Starting", "Starting", "pod weekly-0 is starting"),
    "live": phase("Live", "Live", "media is flowing"),
    "completed": phase("Completed", "Completed", "the Space ended"),
    "suspended": phase("Suspended", "Suspended", "the cast is suspended"),
    "failed": phase("Failed", "PublishRejected", "the ingest refused the stream key"),
}
