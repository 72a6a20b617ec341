"""The controller's Prometheus metrics, defined here once (names are a contract with the
dashboards and alerts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("spacecast_controller_reconciles", "Reconcile passes, by result.", ["result"])
RECONCILE_SECONDS = Histogram(
    "spacecast_controller_reconcile_seconds",
    "Duration of one reconcile pass.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
QUEUE_DEPTH = Gauge("spacecast_controller_queue_depth", "Keys waiting in the work queue.")
QUEUE_LATENCY = Histogram(
    "spacecast_controller_queue_latency_seconds",
    "From a key's last add to a worker taking it.",
    buckets=(0.001, 0.01, 0.1, 1, 10, 60),
)
WATCH_RESTARTS = Counter(
    "spacecast_controller_watch_restarts",
    "Watches reopened, by resource and reason (expired: 410; inactive: silent too long; "
    "error: the call failed).",
    ["resource", "reason"],
)
WRITES = Counter("spacecast_controller_writes", "Pods created and statuses written.", ["kind"])
CASTS = Gauge("spacecast_controller_casts", "SpaceCasts by phase.", ["phase"])
