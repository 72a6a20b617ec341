"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
with two replicas exactly one reconciles, and the other takes over within the lease duration
plus one retry period when the leader dies.

- Acquire and renew by update with the Lease's resourceVersion: two candidates can never both
  succeed (the loser gets 409 Conflict).
- A Lease is judged expired by this process's own clock: the time since *we* last saw its
  record change, never the holder's renewTime (clocks on two nodes disagree).
- A leader that cannot renew within the renew deadline stops leading at once (`leading` is
  cleared before the deadline passes the lease duration), so it stops writing before anyone
  else may start. The defaults are client-go's: 15 s lease, 10 s renew deadline, 2 s retry.

Why not the client's `kubernetes.leaderelection`: its loop blocks the calling thread, leaves
no way to stop it cleanly, and logs rather than reports a loss; this one is a small thread
with an Event the workers read.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.kube import Kube, KubeError
from spacecast.logs import get_logger

log = get_logger("controller.leader")


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        *,
        identity: str | None = None,
        lease_s: float = 15.0,
        renew_deadline_s: float = 10.0,
        retry_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube, self.clock = kube, clock
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.namespace, self.name = namespace, name
        self.identity = identity or f"spacecast-controller-{uuid.uuid4().hex[:8]}"
        self.lease_s, self.renew_deadline_s, self.retry_s = lease_s, renew_deadline_s, retry_s
        self.leading = threading.Event()
        self.stop = threading.Event()
        self.transitions = 0
        self._seen: tuple[Any, ...] | None = None  # the record as last observed
        self._seen_at = 0.0
        self._renewed_at = 0.0
        # A call may not outlast the renew deadline: a slow apiserver must not keep us leading.
        self._call_s = max(0.5, renew_deadline_s / 3)

    def run(self) -> None:
        """Try to lead, then keep leading, until `stop`; never raises."""
        while not self.stop.is_set():
            began = self.clock()
            try:
                got = self._try()
            except Exception as exc:  # a failed call, or anything: never leave `leading` stale
                got = False
                log.warning("lease call failed", lease=self.name, error=str(exc)[:200])
            now = self.clock()
            if got:
                self._renewed_at = began  # the Lease's clock started when we sent the renewal
                if not self.leading.is_set():
                    log.info("leading", identity=self.identity)
                    self.leading.set()
            elif self.leading.is_set() and now - self._renewed_at >= self.renew_deadline_s:
                log.error("lost the lease: no longer leading", identity=self.identity)
                self.leading.clear()
            self.stop.wait(self.retry_s)
        if self.leading.is_set():
            self.leading.clear()
            self._release()

    def may_write(self) -> bool:
        """Leading, and renewed recently enough that nobody else can have taken over: checked
        before every write, so a leader stuck in a slow call stops in time on its own."""
        return self.leading.is_set() and self.clock() - self._renewed_at < self.renew_deadline_s

    def _record(self, lease: dict[str, Any]) -> tuple[Any, ...]:
        spec = lease.get("spec") or {}
        return (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))

    def _try(self) -> bool:
        """One attempt to acquire or renew; True when we hold the Lease after it."""
        try:
            lease = self.kube.request("GET", self.path, timeout_s=self._call_s)
        except KubeError as exc:
            if exc.status != 404:
                raise
            return self._create()
        now, record = self.clock(), self._record(lease)
        if record != self._seen:
            self._seen, self._seen_at = record, now
        holder = record[0]
        expired = now - self._seen_at >= self.lease_s
        if holder and holder != self.identity and not expired:
            return False
        spec = dict(lease.get("spec") or {})
        if holder != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = _micro_time()
        spec |= {"holderIdentity": self.identity, "renewTime": _micro_time(),
                 "leaseDurationSeconds": int(self.lease_s)}  # fmt: skip
        body = {**lease, "spec": spec}
        try:
            updated = self.kube.request("PUT", self.path, body=body, timeout_s=self._call_s)
        except KubeError as exc:
            if exc.status == 409:  # someone else wrote it first
                return False
            raise
        self._seen, self._seen_at = self._record(updated), self.clock()
        return True

    def _create(self) -> bool:
        now = _micro_time()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_s),
                     "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
        }  # fmt: skip
        try:
            created = self.kube.request(
                "POST", self.path.rsplit("/", 1)[0], body=body, timeout_s=self._call_s
            )
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        self._seen, self._seen_at = self._record(created), self.clock()
        return True

    def _release(self) -> None:
        """Hand the Lease back on a clean stop, so a successor need not wait for expiry."""
        try:
            lease = self.kube.request("GET", self.path, timeout_s=self._call_s)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"] |= {"holderIdentity": "", "leaseDurationSeconds": 1}
            self.kube.request("PUT", self.path, body=lease)
        except KubeError as exc:
            log.warning("lease not released", error=str(exc)[:200])
