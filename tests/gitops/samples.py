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
