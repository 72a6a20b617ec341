"""The controller process: four watches fill the caches (SpaceCasts, the pods it owns, the
Secrets' key names, the sessions' reports), their changes become keys in the work queue, and a
few workers reconcile them. Health on /healthz (the workers and watches are alive) and /readyz
(the caches are synced), metrics on /metrics.

Threads, not asyncio: the official client is synchronous, each watch blocks on its socket,
and a reconcile is a handful of quick calls; a thread per watch and per worker is simple and
keeps a slow call from stalling the rest.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from controller import api, metrics
from controller.kube import JSON, Kube
from controller.leader import LeaderElector
from controller.queue import WorkQueue
from controller.reconcile import (
    CASTS_PATH,
    Caches,
    EventPoster,
    Reconciler,
    is_active,
    owner_of,
    ready_reason,
)
from controller.settings import ControllerSettings
from controller.watch import Reflector, report, secret_keys, slim
from spacecast.contract import REPORTER
from spacecast.logs import get_logger

log = get_logger("controller")
POD_SELECTOR = f"app.kubernetes.io/managed-by={api.MANAGED_BY}"
# The sessions' reports only, filtered by the apiserver: the controller's own Events and the
# cluster's other Events never reach it.
REPORT_SELECTOR = f"reportingComponent={REPORTER},involvedObject.kind={api.KIND}"


def _paths(namespace: str | None) -> tuple[str, str, str, str]:
    if namespace:
        return (
            f"{CASTS_PATH}/namespaces/{namespace}/{api.PLURAL}",
            f"/api/v1/namespaces/{namespace}/pods",
            f"/api/v1/namespaces/{namespace}/secrets",
            f"/api/v1/namespaces/{namespace}/events",
        )
    return f"{CASTS_PATH}/{api.PLURAL}", "/api/v1/pods", "/api/v1/secrets", "/api/v1/events"


def connections(settings: ControllerSettings) -> int:
    """HTTP connections the controller keeps: one per thread that talks to the apiserver. Too
    small a pool is costly, not just slow: urllib3 opens a connection for each request beyond
    it and drops it after, a TLS handshake every time (one watch more, and a 1000-cast burst
    took a fifth more CPU and 8 s longer to go Live)."""
    watches = len(fields(Caches))
    leader = 1 if settings.leader_elect else 0
    return settings.workers + watches + EventPoster.THREADS + leader + 1  # +1: /healthz spare


class Controller:
    def __init__(self, kube: Kube, settings: ControllerSettings) -> None:
        self.kube, self.settings = kube, settings
        self.queue = WorkQueue()
        self.stop = threading.Event()
        casts, pods, secrets, events = _paths(settings.namespace)
        common: dict[str, Any] = {
            "timeout_s": settings.watch_timeout_seconds,
            "inactivity_s": settings.inactivity_timeout_seconds,
        }
        self.caches = Caches(
            casts=Reflector(kube, casts, on_change=self._cast_changed, keep=slim,
                            on_restart=self._restarted("spacecasts"), **common),
            pods=Reflector(kube, pods, on_change=self._pod_changed, label_selector=POD_SELECTOR,
                           keep=slim, index=owner_of, on_restart=self._restarted("pods"),
                           **common),
            secrets=Reflector(kube, secrets, on_change=self._secret_changed, keep=secret_keys,
                              index=_namespace, on_restart=self._restarted("secrets"), **common),
            reports=Reflector(kube, events, on_change=self._reported, keep=report,
                              field_selector=REPORT_SELECTOR, index=_regards,
                              on_restart=self._restarted("events"), **common),
        )  # fmt: skip
        self.elector = (
            LeaderElector(kube, settings.lease_namespace, settings.lease_name,
                          lease_s=settings.lease_seconds,
                          renew_deadline_s=settings.renew_deadline_seconds,
                          retry_s=settings.retry_seconds)
            if settings.leader_elect else None
        )  # fmt: skip
        self.reconcile = Reconciler(
            kube, self.caches, settings,
            may_write=self.elector.may_write if self.elector else lambda: True,
            rushing=self.queue.rushing, busy=self.queue.busy,
        )  # fmt: skip
        self.threads: list[threading.Thread] = []
        self.server: ThreadingHTTPServer | None = None
        self.heartbeats: dict[str, float] = {}

    # Events to keys.
    def _cast_changed(self, key: str, old: JSON | None, new: JSON | None) -> None:
        if (old is None) != (new is None) or (
            old is not None and new is not None and ready_reason(old) != ready_reason(new)
        ):
            self._wake_waiting()  # one more or one fewer in line: the next may have its place
        if new is not None and old is not None and _same_but_status(old, new):
            return  # our own status write coming back: nothing to do
        # A cast never worked on waits for its pod: ahead of every other pass.
        self.queue.add(key, first=new is not None and not new.get("status"))

    def _pod_changed(self, key: str, old: JSON | None, new: JSON | None) -> None:
        if owner := owner_of(new or old or {}):
            self.queue.add(owner)
        freed = old is not None and is_active(old) and (new is None or not is_active(new))
        if freed:  # a slot is free: the waiting casts may start
            self._wake_waiting()

    def _wake_waiting(self) -> None:
        if not self.settings.max_sessions:
            return
        for cast in self.caches.casts.items():
            if ready_reason(cast) == "WaitingForCapacity":
                meta = cast["metadata"]
                self.queue.add(f"{meta['namespace']}/{meta['name']}")

    def _secret_changed(self, key: str, old: JSON | None, new: JSON | None) -> None:
        namespace, name = key.split("/", 1)
        for cast in self.caches.casts.items():
            if cast["metadata"]["namespace"] == namespace and name in _secret_names(cast):
                self.queue.add(f"{namespace}/{cast['metadata']['name']}")

    def _reported(self, key: str, old: JSON | None, new: JSON | None) -> None:
        if new is not None and (cast := _regards(new)):
            self.queue.add(cast)  # an expired report changes nothing: the status keeps it

    def _restarted(self, resource: str) -> Any:
        return lambda reason: metrics.WATCH_RESTARTS.labels(resource, reason).inc()

    # Running.
    def start(self) -> None:
        for name, reflector in vars(self.caches).items():
            self._thread(f"watch-{name}", reflector.run)
        if self.elector:
            self._thread("leader", self.elector.run)
        for i in range(self.settings.workers):
            self._thread(f"worker-{i}", self._work, f"worker-{i}")
        self._thread("resync", self._resync)

    def _thread(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def leading(self) -> bool:
        return self.elector is None or self.elector.leading.is_set()

    def synced(self) -> bool:
        return all(r.synced.is_set() for r in vars(self.caches).values())

    def _work(self, name: str) -> None:
        while not self.stop.is_set():
            self.heartbeats[name] = time.monotonic()
            if self.elector and not self.elector.leading.wait(1.0):  # standing by
                continue
            if not self.synced():  # decide on complete caches only
                self.stop.wait(0.05)
                continue
            key = self.queue.get(timeout=5.0)  # a heartbeat every 5 s when idle, no more
            if key is None:
                continue
            started = time.monotonic()
            try:
                after = self.reconcile(key)
            except Exception as exc:
                delay = self.queue.done(key, error=True)
                metrics.RECONCILES.labels("error").inc()
                log.warning("reconcile failed", key=key, error=str(exc)[:300], retry_s=delay)
            else:
                self.queue.done(key, requeue_after=after)
                metrics.RECONCILES.labels("ok").inc()
            finally:
                metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)
                metrics.QUEUE_DEPTH.set(self.queue.depth())

    def _resync(self) -> None:
        """Every cast, now and then: a timer the watches cannot miss (drift, a lost event)."""
        while not self.stop.wait(self.settings.resync_seconds):
            for cast in self.caches.casts.items():
                meta = cast["metadata"]
                self.queue.add(f"{meta['namespace']}/{meta['name']}")

    def observe(self) -> None:
        """The fleet's gauges, read from the caches when scraped: always current, and no cost
        between scrapes."""
        casts = self.caches.casts.items()
        phases = Counter((c.get("status") or {}).get("phase", "Pending") for c in casts)
        for phase in api.PHASES:
            metrics.CASTS.labels(phase).set(phases.get(phase, 0))
        waiting = sum(ready_reason(c) == "WaitingForCapacity" for c in casts)
        metrics.WAITING_FOR_CAPACITY.set(waiting)
        metrics.ACTIVE_SESSIONS.set(sum(is_active(p) for p in self.caches.pods.items()))
        metrics.SESSION_LIMIT.set(self.settings.max_sessions or 0)
        metrics.LEADER.set(1 if self.elector is None or self.elector.leading.is_set() else 0)

    def alive(self) -> bool:
        now = time.monotonic()
        # A pass can wait on a slow apiserver for up to its request timeout (30 s), twice.
        workers_ok = all(now - t < 90 for t in self.heartbeats.values())
        return workers_ok and all(t.is_alive() for t in self.threads)

    def serve(self) -> int:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    controller.observe()
                    self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    ok = controller.alive()
                    self._answer(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
                elif self.path == "/readyz":
                    ok = controller.synced()
                    self._answer(200 if ok else 503, b"ok\n" if ok else b"syncing\n")
                else:
                    self._answer(404, b"not found\n")

            def _answer(self, code: int, body: bytes, kind: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(
            (self.settings.metrics_bind, self.settings.metrics_port), Handler
        )
        self._thread("http", self.server.serve_forever)
        return int(self.server.server_address[1])

    def shutdown(self) -> None:
        self.stop.set()
        if self.elector:
            self.elector.stop.set()
        self.queue.close()
        self.reconcile.events.close()
        for reflector in vars(self.caches).values():
            reflector.stop.set()
        if self.server:
            self.server.shutdown()


def _same_but_status(old: JSON, new: JSON) -> bool:
    return (
        old.get("spec") == new.get("spec")
        and old["metadata"].get("generation") == new["metadata"].get("generation")
        and (old["metadata"].get("deletionTimestamp") == new["metadata"].get("deletionTimestamp"))
    )


def _namespace(obj: JSON) -> str | None:
    return (obj.get("metadata") or {}).get("namespace")


def _regards(report: JSON) -> str | None:
    """The key of the SpaceCast a session's report regards."""
    name = (report.get("regarding") or {}).get("name")
    return f"{report['metadata'].get('namespace')}/{name}" if name else None


def _secret_names(cast: JSON) -> set[str]:
    spec = cast.get("spec") or {}
    names = {d.get("secretRef", {}).get("name") for d in spec.get("destinations") or []}
    names.add((spec.get("cookiesSecretRef") or {}).get("name"))
    return {n for n in names if n}
