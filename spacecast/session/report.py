"""The session's live facts, told to Kubernetes as Events about its SpaceCast.

A cast's status should say where its audio comes from and whether it is silent while it runs,
not only after it ends. The session says so itself, in the one way that needs no rights beyond
"create Events in my namespace" (it never reads Secrets, pods or anything else) and costs the
controller nothing while nothing changes: an Event regarding the SpaceCast, posted only when a
fact changes (`spacecast.contract.report_event` names it: Casting, Rescued, Silent, Audible).
People see these in `kubectl describe spacecast`; the controller watches Events of this
reporting component only (a server-side field selector) and folds the newest one of the
current pod into the status.

Level, not edges: every Event carries all the facts and a sequence number
(`spacecast.contract.Facts`), so a lost one is made good by the next. Posting never blocks or
fails the cast: one task posts the latest facts, retries with the shared backoff while the API
is out of reach, and posts at most one Event per `MIN_INTERVAL_S`, so a cast whose speakers
pause now and then cannot flood the API. A retried post reuses its Event's name, so a post
that landed before its answer was lost meets AlreadyExists instead of making a twin.

The token is read from its file at each post (the kubelet rotates projected tokens) and never
logged; errors name the API and the status, not the request.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from spacecast.backoff import RetryPolicy
from spacecast.contract import REPORTER, Facts, report_event
from spacecast.logs import get_logger
from spacecast.session.settings import SessionSettings

log = get_logger("session.report")
MIN_INTERVAL_S = 10.0
RETRY = RetryPolicy(base_s=1.0, max_s=15.0)  # an outage over, the status catches up soon
TIMEOUT_S = 10.0
API_VERSION = "spacecast.dev/v1alpha1"  # the SpaceCast's (controller/api.py; a test holds it)
KIND = "SpaceCast"


@dataclass(frozen=True)
class Target:
    """Where the facts go: the API, the credentials' files, the cast and this pod."""

    api: str
    token_file: str
    ca_file: str
    namespace: str
    cast: str
    cast_uid: str
    pod: str

    @classmethod
    def from_settings(cls, s: SessionSettings) -> Target | None:
        """None when the session is not told to report (outside a SpaceCast's pod)."""
        if not s.report_cast:
            return None
        namespace, cast = s.report_cast.split("/", 1)
        return cls(s.report_api or _in_cluster_api(), s.report_token_file, s.report_ca_file,
                   namespace, cast, s.report_cast_uid, s.report_pod)  # fmt: skip


def _in_cluster_api() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def event(
    target: Target, name: str, seq: int, before: Facts | None, now: Facts
) -> dict[str, object]:
    """The Event that reports `now` (a pure function of its inputs but the clock)."""
    kind, reason, message = report_event(before, now)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    regarding = {"apiVersion": API_VERSION, "kind": KIND, "namespace": target.namespace,
                 "name": target.cast, "uid": target.cast_uid}  # fmt: skip
    related = {"related": {"apiVersion": "v1", "kind": "Pod", "namespace": target.namespace,
                           "name": target.pod}} if target.pod else {}  # fmt: skip
    return {
        "metadata": {
            "name": f"{name}.report-{seq}",
            "namespace": target.namespace,
            "annotations": now.annotations(seq),
        },
        "involvedObject": regarding,
        **related,
        "type": kind,
        "reason": reason,
        "message": message,
        "source": {"component": REPORTER},
        "reportingComponent": REPORTER,
        "reportingInstance": target.pod,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class Reporter:
    def __init__(self, target: Target, min_interval_s: float = MIN_INTERVAL_S) -> None:
        self.target, self.min_interval_s = target, min_interval_s
        self.reported: Facts | None = None
        self.posted, self.failed = 0, 0  # Events that landed, tries that did not
        self._latest: Facts | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        # Event names: the pod's are unique per attempt; outside a pod, a random run id.
        self._name = (target.pod or f"{target.cast}.{secrets.token_hex(4)}")[:200]
        self._warned: set[str] = set()

    def update(self, facts: Facts) -> None:
        """The facts as they are now (cheap: call it every tick)."""
        if facts != self._latest:
            self._latest = facts
            self._changed.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="report")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        async with httpx.AsyncClient(verify=self._tls(), timeout=TIMEOUT_S) as http:
            while True:
                await self._changed.wait()
                self._changed.clear()
                now = self._latest
                if now is None or now == self.reported:
                    continue
                self._seq += 1
                body = event(self.target, self._name, self._seq, self.reported, now)
                await self._post(http, body)
                self.reported = now
                self.posted += 1
                await asyncio.sleep(self.min_interval_s)  # changes meanwhile: the latest only

    def _tls(self) -> ssl.SSLContext | bool:
        try:
            return ssl.create_default_context(cafile=self.target.ca_file)
        except (OSError, ssl.SSLError) as exc:  # no CA file: verify against the system's
            self._warn("ca", "cannot read the API's CA file", file=self.target.ca_file,
                       error=type(exc).__name__)  # fmt: skip
            return True

    async def _post(self, http: httpx.AsyncClient, body: dict[str, object]) -> None:
        """Post until it lands (AlreadyExists counts: an earlier try landed)."""
        url = f"{self.target.api}/api/v1/namespaces/{self.target.namespace}/events"
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = await http.post(url, json=body, headers=self._auth())
                if answer.status_code in (200, 201, 409):
                    return
                problem = f"HTTP {answer.status_code}"
            except (httpx.HTTPError, OSError) as exc:
                problem = type(exc).__name__
            self.failed += 1
            self._warn(problem, "cannot report to the Kubernetes API (the cast goes on)",
                       api=self.target.api, error=problem)  # fmt: skip
            await asyncio.sleep(RETRY.delay(attempt))

    def _auth(self) -> dict[str, str]:
        try:
            with open(self.target.token_file, encoding="utf-8") as f:
                return {"Authorization": f"Bearer {f.read().strip()}"}
        except (OSError, UnicodeDecodeError) as exc:
            self._warn("token", "cannot read the service account token",
                       file=self.target.token_file, error=type(exc).__name__)  # fmt: skip
            return {}

    def _warn(self, kind: str, message: str, **fields: object) -> None:
        """Each kind of problem once: a long outage must not fill the log."""
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message, **fields)
