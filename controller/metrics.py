"""The controller's Prometheus metrics, defined here once (names are a contract with the
dashboards and alerts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("spacecast_controller_reconciles", "Reconcile passes, by result.", ["result"])
for _result in ("ok", "error"):
    RECONCILES.labels(_result)  # at 0 from the first scrape, so rate() sees the first error
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
CASTS = Gauge(
    "spacecast_controller_casts",
    "SpaceCasts by phase (read from the cache at each scrape).",
    ["phase"],
)
WAITING_FOR_CAPACITY = Gauge(
    "spacecast_controller_waiting_for_capacity",
    "SpaceCasts in Pending because every session slot is taken (maxSessions).",
)
ACTIVE_SESSIONS = Gauge(
    "spacecast_controller_active_sessions", "Session pods that hold a slot (not yet finished)."
)
SESSION_LIMIT = Gauge(
    "spacecast_controller_session_limit", "The limit on concurrent sessions (0: no limit)."
)
SESSION_RESTARTS = Counter(
    "spacecast_controller_session_restarts",
    "Session pods re-created after a transient exit or a lost pod, by SpaceCast, as its "
    "status.restarts counts them (the series goes with the cast).",
    ["namespace", "spacecast"],
)
LEADER = Gauge(
    "spacecast_controller_leader", "1 while this replica holds the Lease and reconciles."
)
