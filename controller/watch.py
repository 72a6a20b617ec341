"""Watching one kind of object into a cache, the way client-go's reflector does, without the
failure modes Python operators are known for (k8s-control-plane.md, 4.2):

- LIST, then WATCH from the list's resourceVersion with bookmarks, moving the version on with
  every event, bookmarks included; each watch has a server timeout (spread over
  [t, 2t) so many watchers do not reconnect together).
- A watch that stays silent past the inactivity timeout is dropped and reopened: a half-dead
  connection never hangs the controller (kubernetes-client/python#1402, kopf#585). Silence is
  not a failure, though: a quiet resource whose watches get no bookmarks (Events, which have no
  watch cache) is silent for good reason, so it is reopened at once, not after a backoff that
  would hold its next event back by up to 30 s. A dead apiserver shows on the reopen.
- 410 Gone (at connect or as an ERROR event) means the version is too old: LIST again, and
  objects that vanished meanwhile are reported deleted, so no update and no delete is lost.
- Any other failure (apiserver down, connection reset) backs off (`spacecast.backoff`) and
  retries from the last version, forever; the backoff resets once events flow again.

The cache keeps only what `keep` returns for an object (for Secrets: their key names, never
their values). Every change is reported to `on_change(key)`; the caller queues work.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from controller.kube import JSON, Kube, KubeError
from spacecast.backoff import RetryPolicy
from spacecast.logs import get_logger

log = get_logger("controller.watch")
RETRY = RetryPolicy(base_s=0.8, max_s=30.0)  # client-go's reflector: 800 ms to 30 s


def object_key(obj: JSON) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class Reflector:
    def __init__(
        self,
        kube: Kube,
        path: str,
        *,
        on_change: Callable[[str, JSON | None, JSON | None], None],
        keep: Callable[[JSON], JSON] = lambda obj: obj,
        index: Callable[[JSON], str | None] = lambda obj: None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_s: int = 300,
        inactivity_s: float = 75.0,
        on_restart: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.kube, self.path = kube, path
        self.on_change, self.keep, self.on_restart = on_change, keep, on_restart
        self.label_selector, self.field_selector = label_selector, field_selector
        self.timeout_s, self.inactivity_s = timeout_s, inactivity_s
        self.store: dict[str, JSON] = {}
        self.index = index  # e.g. a pod's owner: `by_index` finds a cast's pods in O(1)
        self._indexed: dict[str, set[str]] = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()  # set after the first complete list
        self.stop = threading.Event()
        self.version = ""
        self.failures = 0

    def get(self, key: str) -> JSON | None:
        with self.lock:
            return self.store.get(key)

    def items(self) -> list[JSON]:
        with self.lock:
            return list(self.store.values())

    def by_index(self, value: str) -> list[JSON]:
        with self.lock:
            return [self.store[k] for k in self._indexed.get(value, ()) if k in self.store]

    def _reindex(self, key: str, old: JSON | None, new: JSON | None) -> None:
        """Keep the index in step with the store (the caller holds the lock)."""
        if old is not None and (was := self.index(old)) is not None:
            self._indexed.get(was, set()).discard(key)
        if new is not None and (now := self.index(new)) is not None:
            self._indexed.setdefault(now, set()).add(key)

    def run(self) -> None:
        """List and watch until `stop` is set."""
        self.failures = 0  # in a row: what the backoff grows with
        while not self.stop.is_set():
            try:
                if not self.version:
                    self._list()
                if self._watch():
                    self.failures = 0
            except KubeError as exc:
                if exc.status == 410:
                    self.on_restart("expired")
                    self.version = ""  # relist
                    if self.failures:  # a 410 again without an event between: do not spin
                        self.stop.wait(RETRY.delay(self.failures))
                    self.failures += 1
                    continue
                if exc.reason == "ReadTimeoutError":  # silent past the inactivity timeout
                    self.on_restart("inactive")
                    log.debug("watch silent: reopened", path=self.path)
                    continue
                self.failures += 1
                self.on_restart("error")
                log.warning("watch failed", path=self.path, error=str(exc), attempt=self.failures)
                self.stop.wait(RETRY.delay(self.failures))
            except Exception as exc:  # a watch must never die: say it, retry
                self.failures += 1
                self.on_restart("error")
                log.error("watch broke", path=self.path, error=repr(exc)[:300],
                          attempt=self.failures)  # fmt: skip
                self.stop.wait(RETRY.delay(self.failures))

    def _list(self) -> None:
        data = self.kube.request("GET", self.path, self._selectors())
        fresh = {object_key(o): self.keep(o) for o in data.get("items") or []}
        version = str((data.get("metadata") or {}).get("resourceVersion", ""))
        with self.lock:
            old = self.store
            # Objects written through after the list was read are newer than it: keep them.
            for key, obj in old.items():
                if _newer(obj, {"metadata": {"resourceVersion": version}}) and (
                    key not in fresh or _newer(obj, fresh[key])
                ):
                    fresh[key] = obj
            self.store = fresh
            self._indexed = {}
            for key, obj in fresh.items():
                self._reindex(key, None, obj)
        self.version = version
        for key in old.keys() - fresh.keys():  # deleted while we were not watching
            self.on_change(key, old[key], None)
        for key, obj in fresh.items():
            if old.get(key) != obj:
                self.on_change(key, old.get(key), obj)
        self.synced.set()

    def _selectors(self) -> dict[str, str | None]:
        return {"labelSelector": self.label_selector, "fieldSelector": self.field_selector}

    def _watch(self) -> bool:
        """One watch, until the server ends it; True when events flowed."""
        query = {
            "watch": "true",
            "resourceVersion": self.version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(random.randint(self.timeout_s, 2 * self.timeout_s - 1)),
            **self._selectors(),
        }
        flowed = False
        for event in self.kube.stream(self.path, query, self.inactivity_s):
            if self.stop.is_set():
                break
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                code = int(obj.get("code") or 0)
                raise KubeError(code, str(obj.get("reason", "")), str(obj.get("message", "")))
            self.version = str((obj.get("metadata") or {}).get("resourceVersion", self.version))
            flowed = True
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self._apply(kind, obj)
        return flowed

    def put(self, obj: JSON, created: bool = False) -> None:
        """Write-through: an object the controller just wrote, as the apiserver returned it,
        so the next pass sees its own write before the watch brings it. An update lands only
        on an object still cached: one whose DELETED event came first must not come back."""
        with self.lock:
            present = object_key(obj) in self.store
        if created or present:
            self._apply("MODIFIED", obj)

    def _apply(self, kind: str, obj: JSON) -> None:
        key, kept = object_key(obj), self.keep(obj)
        with self.lock:
            old = self.store.get(key)
            if kind != "DELETED" and old and (_newer(old, kept) or _same(old, kept)):
                # The cache already holds this version or a later one (a write-through): the
                # watch bringing it back is no change, and a pass for it would be wasted.
                return
            if kind == "DELETED":
                self.store.pop(key, None)
                self._reindex(key, old, None)
            else:
                self.store[key] = kept
                self._reindex(key, old, kept)
        self.on_change(key, old, None if kind == "DELETED" else kept)


def _newer(a: JSON, b: JSON) -> bool:
    """Whether `a` is a later version than `b`. resourceVersions are opaque by contract but
    etcd's revisions in practice; when they are not numbers, trust the newest event."""
    try:
        return int(a["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    except (KeyError, ValueError, TypeError):
        return False


def _same(a: JSON, b: JSON) -> bool:
    version = a["metadata"].get("resourceVersion")
    return bool(version) and version == b["metadata"].get("resourceVersion")


def slim(obj: JSON) -> JSON:
    """What the cache keeps of a cast or a pod: all but managedFields, often half its size."""
    meta = obj.get("metadata") or {}
    if "managedFields" not in meta:
        return obj
    return obj | {"metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def secret_keys(secret: JSON) -> JSON:
    """What the cache keeps of a Secret: its name and its keys' names, never their values."""
    meta = secret.get("metadata") or {}
    keys = sorted((secret.get("data") or {}).keys() | (secret.get("stringData") or {}).keys())
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                     "resourceVersion": meta.get("resourceVersion")},
        "keys": keys,
    }  # fmt: skip


def report(event: JSON) -> JSON:
    """What the cache keeps of a session's report (an Event): whom it regards, which pod
    reported, and the facts in its annotations (`spacecast.contract.Facts`)."""
    meta, regarding = event.get("metadata") or {}, event.get("involvedObject") or {}
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                     "resourceVersion": meta.get("resourceVersion"),
                     "annotations": meta.get("annotations") or {}},
        "regarding": {"kind": regarding.get("kind"), "name": regarding.get("name"),
                      "uid": regarding.get("uid")},
        "instance": event.get("reportingInstance") or "",
    }  # fmt: skip
