"""One pass for one SpaceCast: read the caches, decide (`controller/status.py`), then write
what changed: at most one pod created, stale pods deleted, the status when it differs, an Event
per transition. Every write goes through the caches (write-through), so the next pass sees it
even before the watch brings it, and two passes never create two pods: pod names are per
attempt, so a repeated create meets AlreadyExists.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller import api, metrics
from controller.kube import JSON, Kube, KubeError
from controller.settings import ControllerSettings
from controller.status import Outcome, decide, iso, reason_of, refused
from controller.watch import Reflector
from spacecast.contract import Facts
from spacecast.logs import get_logger

log = get_logger("controller.reconcile")
CASTS_PATH = f"/apis/{api.GROUP}/{api.VERSION}"


def cast_path(namespace: str, name: str = "") -> str:
    base = f"{CASTS_PATH}/namespaces/{namespace}/{api.PLURAL}"
    return f"{base}/{name}" if name else base


def is_active(pod: JSON) -> bool:
    """A pod that holds a session slot: not ended, not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_reason(cast: JSON) -> str | None:
    return reason_of(cast.get("status") or {}, "Ready")


def _waiting(cast: JSON) -> bool:
    """Waiting for its first pod: refused a slot, or not yet seen at all (a burst of casts is
    worked on in any order, and the older ones must still come first)."""
    status = cast.get("status") or {}
    if not status:
        return not (cast.get("spec") or {}).get("suspend")
    return status.get("phase") == "Pending" and ready_reason(cast) == "WaitingForCapacity"


def _age(cast: JSON) -> tuple[str, str]:
    """Oldest first: creationTimestamp has one-second steps, so ties go by name."""
    meta = cast["metadata"]
    return (str(meta.get("creationTimestamp", "")), f"{meta['namespace']}/{meta['name']}")


def owner_of(pod: JSON) -> str | None:
    """The key of the SpaceCast that controls this pod."""
    meta = pod.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == api.KIND:
            return f"{meta.get('namespace')}/{ref.get('name')}"
    return None


@dataclass
class Caches:
    casts: Reflector
    pods: Reflector
    secrets: Reflector
    reports: Reflector  # the sessions' Events (controller.watch.report), by the cast they regard

    def pods_of(self, key: str) -> list[JSON]:
        return self.pods.by_index(key)  # indexed by owner_of

    def reports_of(self, key: str, uid: str) -> dict[str, Facts]:
        """The newest facts each pod of the cast (this very cast: its uid) reported."""
        newest: dict[str, tuple[int, Facts]] = {}
        for event in self.reports.by_index(key):
            read = Facts.read(event["metadata"]["annotations"])
            pod = event["instance"]
            if read and event["regarding"]["uid"] == uid and read[0] > newest.get(pod, (-1,))[0]:
                newest[pod] = read
        return {pod: facts for pod, (_, facts) in newest.items()}

    def secrets_in(self, namespace: str) -> dict[str, set[str]]:
        return {s["metadata"]["name"]: set(s["keys"]) for s in self.secrets.by_index(namespace)}


class NotLeading(Exception):
    """The Lease was lost during the pass: write nothing more."""


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        caches: Caches,
        settings: ControllerSettings,
        may_write: Callable[[], bool] = lambda: True,
        rushing: Callable[[], bool] = lambda: False,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.kube, self.caches, self.settings = kube, caches, settings
        self.may_write, self.rushing = may_write, rushing
        self.events = EventPoster(kube, may_write, hold=busy)
        self.slots: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if settings.max_sessions else contextlib.nullcontext()
        )

    def _may_start(self, key: str) -> bool:
        """Whether `key` may have a new pod: a slot is free beyond those owed to the casts that
        have waited longer (refused before, and created earlier)."""
        limit = self.settings.max_sessions
        if limit is None:
            return True
        active = {owner_of(p) for p in self.caches.pods.items() if is_active(p)}
        if key in active:
            return True
        this = self.caches.casts.get(key)
        if this is None:
            return False
        older_waiting = [
            c for c in self.caches.casts.items()
            if _age(c) < _age(this) and _waiting(c)
            and f"{c['metadata']['namespace']}/{c['metadata']['name']}" not in active
        ]  # fmt: skip
        return limit - len(active) > len(older_waiting)

    def _write(self, method: str, path: str, **kwargs: Any) -> JSON:
        """Every write of a pass goes here: none once the Lease is lost."""
        if not self.may_write():
            raise NotLeading
        return self.kube.request(method, path, **kwargs)

    def __call__(self, key: str) -> float | None:
        """Reconcile `key`; returns seconds until it wants another pass, or None."""
        cast = self.caches.casts.get(key)
        if cast is None or cast["metadata"].get("deletionTimestamp"):
            with contextlib.suppress(KeyError):  # its series goes with it
                metrics.SESSION_RESTARTS.remove(*key.split("/", 1))
            return None  # its pods go with it (ownerReference garbage collection)
        namespace = cast["metadata"]["namespace"]
        # At 0 from the cast's first pass: increase() then counts its first restart too.
        metrics.SESSION_RESTARTS.labels(namespace, cast["metadata"]["name"])
        pods = self._pods(cast, key)
        with self.slots:  # capacity: decide and create as one step (a no-op lock without it)
            outcome = decide(
                cast,
                pods,
                self.caches.secrets_in(namespace),
                datetime.now(UTC),
                self.settings,
                may_start=self._may_start(key),
                reports=self.caches.reports_of(key, cast["metadata"]["uid"]),
            )
            try:
                self._act(namespace, outcome)
            except KubeError as exc:
                if exc.status not in (400, 403, 422) or outcome.step.create is None:
                    raise
                # The apiserver or an admission check refused the pod: the spec cannot run
                # here, and retrying will not change that.
                outcome = refused(cast, f"the pod was refused: {exc.message[:500]}")
        if outcome.step.create is None or cast.get("status") or not self.rushing():
            self._write_status(cast, outcome)
        # else: a new cast in a burst of them, pods first. Its new pod (written through the
        # cache, then its watch events) brings it back for its first status after the burst,
        # Starting by then: one write fewer. Only for a cast with no status yet: the next pass
        # finds its pod and nothing else to go by, so it takes the pod as running, never
        # starts another one.
        for kind, reason, message in outcome.events:
            self.events.post(_event(cast, kind, reason, message))
        return outcome.step.after

    def _pods(self, cast: JSON, key: str) -> list[JSON]:
        """The cast's pods; the one its status names is fetched when the cache lacks it (the
        watch not there yet, or a restart's lists taken at different moments), so a pod the
        cache has not seen is never taken for a lost one."""
        pods = self.caches.pods_of(key)
        name = (cast.get("status") or {}).get("podName")
        if not name or any(p["metadata"]["name"] == name for p in pods):
            return pods
        try:
            pod = self.kube.request("GET", f"/api/v1/namespaces/{cast['metadata']['namespace']}"
                                    f"/pods/{name}")  # fmt: skip
        except KubeError as exc:
            if exc.status == 404:
                return pods
            raise
        self.caches.pods.put(pod, created=True)
        return [*pods, pod]

    def _act(self, namespace: str, outcome: Outcome) -> None:
        pods = f"/api/v1/namespaces/{namespace}/pods"
        for name in outcome.step.delete:
            try:
                self.caches.pods.put(self._write("DELETE", f"{pods}/{name}"))
            except KubeError as exc:
                if exc.status != 404:
                    raise
        if outcome.step.create is not None:
            try:
                self.caches.pods.put(
                    self._write("POST", pods, body=outcome.step.create), created=True
                )
                metrics.WRITES.labels("pod").inc()
            except KubeError as exc:
                if exc.status != 409:  # AlreadyExists: an earlier pass made it
                    raise

    def _write_status(self, cast: JSON, outcome: Outcome) -> None:
        if outcome.status == (cast.get("status") or {}):
            return
        meta, old = cast["metadata"], cast.get("status") or {}
        gone = {k: None for k in old if k not in outcome.status}  # a merge patch deletes by null
        body: dict[str, Any] = {
            "metadata": {"resourceVersion": meta["resourceVersion"]},  # no lost update
            "status": outcome.status | gone,
        }
        try:
            written = self._write(
                "PATCH",
                cast_path(meta["namespace"], meta["name"]) + "/status",
                body=body,
                content_type="application/merge-patch+json",
            )
        except KubeError as exc:
            if exc.status in (404, 409):  # gone, or changed since read: the next pass redoes it
                raise Retry from None
            raise
        self.caches.casts.put(written)
        metrics.WRITES.labels("status").inc()
        # Restarts as the status counts them (an exit retried, a pod lost), once each: only a
        # write that landed moves the count, and a rerun's reset to 0 is no restart.
        grew = int(outcome.status.get("restarts") or 0) - int(old.get("restarts") or 0)
        if grew > 0:
            metrics.SESSION_RESTARTS.labels(meta["namespace"], meta["name"]).inc(grew)


class Retry(Exception):
    """The pass read a stale object; run it again (with the queue's backoff)."""


def _event(cast: JSON, kind: str, reason: str, message: str) -> JSON:
    meta = cast["metadata"]
    now = iso(datetime.now(UTC))
    return {
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
        },
        "type": kind,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": api.MANAGED_BY},
        "reportingComponent": api.MANAGED_BY,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class EventPoster:
    """Events go out from a thread of their own: a courtesy to people, never a reason to slow
    or fail a pass. They hold back while passes wait in the queue (`hold`), so a burst's
    Events take no apiserver time from its pods and statuses; but never longer than HOLD_S
    from when the holding began, one deadline for all, so a queue that stays busy (a big
    fleet's resync, a storm of reports) delays them by HOLD_S at most, never starves them. A full
    backlog (an apiserver that cannot keep up) drops the newest."""

    THREADS = 4  # a burst of casts makes a burst of Events: a few at a time
    HOLD_S = 30.0

    def __init__(
        self, kube: Kube, may_write: Callable[[], bool],
        hold: Callable[[], bool] = lambda: False, backlog: int = 10_000,
        threads: int = THREADS,
    ) -> None:  # fmt: skip
        self.kube, self.may_write, self.hold = kube, may_write, hold
        self._holding_since: float | None = None  # one deadline for every thread
        self.queue: queue.Queue[JSON | None] = queue.Queue(backlog)
        self.dropped, self.threads = 0, threads
        self.workers = [threading.Thread(target=self._run, name=f"events-{i}", daemon=True)
                        for i in range(threads)]  # fmt: skip
        for worker in self.workers:
            worker.start()

    def post(self, event: JSON) -> None:
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def _wait_for_quiet(self) -> None:
        while self.hold():
            now = time.monotonic()
            since = self._holding_since = self._holding_since or now
            if now - since >= self.HOLD_S:
                return  # busy all along: go ahead (the deadline stays until a quiet moment)
            time.sleep(0.05)
        self._holding_since = None

    def close(self) -> None:
        for _ in range(self.threads):
            with contextlib.suppress(queue.Full):
                self.queue.put_nowait(None)

    def _run(self) -> None:
        while (event := self.queue.get()) is not None:
            self._wait_for_quiet()
            if not self.may_write():
                continue
            path = f"/api/v1/namespaces/{event['metadata']['namespace']}/events"
            try:
                self.kube.request("POST", path, body=event)
            except KubeError as exc:
                log.warning("event not recorded", reason=event["reason"], error=str(exc)[:200])
