"""From what is observed to what should be: a pure function of a SpaceCast, its pods, the
Secrets it names and the time, returning the cast's status and the one step to take next.

Level-triggered: everything is derived from the objects as they are now, so running it twice,
or after a crash between a step and its status write, gives the same answer. The count of
failures travels on the pods themselves (an annotation set at creation), and the next pod's
name is the next attempt's, so a repeated create meets AlreadyExists instead of a twin.

    phase      when
    Pending    no pod yet, the pod unscheduled, or the cast cannot start (a Secret missing)
    Starting   the pod scheduled but not ready; or waiting to replace a failed pod
    Live       the pod ready: media flowing (silence does not change it, see session/health)
    Suspended  spec.suspend
    Completed  the session exited 0 (the Space ended), or the maximum duration was reached
    Failed     a permanent exit, too many transient ones, or a spec that cannot run

Exit classes come from `spacecast.contract`; what the kubelet reports instead of an exit
(evicted, OOM-killed, a pod gone) is transient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller import api
from controller.pod import InvalidCast, desired_pod
from controller.settings import ControllerSettings
from spacecast.contract import ExitClass, Facts, Summary, exit_class

FAILURES_ANNOTATION = f"{api.GROUP}/failures"  # transient failures before this pod
GENERATION_ANNOTATION = f"{api.GROUP}/generation"  # the cast's generation it was made for
# Reasons under which the controller itself deletes the pod: its end is no failure.
OURS = ("SpecChanged", "Replacing", "Suspended")
TERMINAL = ("Completed", "Failed")


@dataclass(frozen=True)
class Step:
    """What to do next: create a pod, delete one, or look again after `after` seconds."""

    create: dict[str, Any] | None = None
    delete: tuple[str, ...] = ()  # pod names
    after: float | None = None


@dataclass
class Outcome:
    status: dict[str, Any]
    step: Step = field(default_factory=Step)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)


def _number(pod: dict[str, Any], where: str, key: str) -> int:
    """A count the controller wrote on a pod (a label or an annotation); 0 when absent."""
    try:
        return int((pod["metadata"].get(where) or {}).get(key, "0"))
    except ValueError:
        return 0


def _attempt(pod: dict[str, Any]) -> int:
    return _number(pod, "labels", api.ATTEMPT_LABEL)


def _failures(pod: dict[str, Any]) -> int:
    return _number(pod, "annotations", FAILURES_ANNOTATION)


def _generation(pod: dict[str, Any]) -> int:
    return _number(pod, "annotations", GENERATION_ANNOTATION)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def missing_secrets(spec: api.SpaceCastSpec, secrets: dict[str, set[str]]) -> list[str]:
    """`name/key` of each Secret key the cast names that does not exist (names, never values)."""
    refs = [d.secret_ref for d in spec.destinations]
    refs += [spec.cookies_secret_ref] if spec.cookies_secret_ref else []
    return [f"{r.name}/{r.key}" for r in refs if r.key not in secrets.get(r.name, set())]


@dataclass(frozen=True)
class Ended:
    """How a pod's session ended, from the kubelet's view and the session's summary."""

    code: int | None
    klass: ExitClass
    reason: str
    summary: Summary | None


def ended(pod: dict[str, Any]) -> Ended | None:
    """None while the pod runs; else its exit and what it means."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase not in ("Succeeded", "Failed"):
        return None
    if status.get("reason") == "DeadlineExceeded":  # spec.limits.maxDurationSeconds
        return Ended(0, ExitClass.SUCCESS, "MaxDurationReached", None)
    if status.get("reason") == "Evicted":
        return Ended(None, ExitClass.TRANSIENT, "Evicted", None)
    for container in status.get("containerStatuses") or []:
        term = (container.get("state") or {}).get("terminated")
        if term and container.get("name") == "session":
            code = int(term.get("exitCode", 1))
            summary = Summary.parse(term.get("message") or "")
            if term.get("reason") == "OOMKilled":
                return Ended(code, ExitClass.TRANSIENT, "OOMKilled", summary)
            if code == 0 and summary and summary.reason == "terminated":
                # SIGTERM that the controller did not send (a probe's kill, a node draining):
                # the Space has not ended, so the cast goes on.
                return Ended(code, ExitClass.TRANSIENT, "Terminated", summary)
            reason = summary.reason if summary else term.get("reason") or "Exited"
            return Ended(code, exit_class(code), f"Exit{code}" if not summary else reason, summary)
    return Ended(None, ExitClass.TRANSIENT, status.get("reason") or "PodFailed", None)


def _pod_phase(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conditions.get("Ready") == "True":
        return "Live"
    if pod.get("spec", {}).get("nodeName") or conditions.get("PodScheduled") == "True":
        return "Starting"
    return "Pending"


def backoff(failures: int, settings: ControllerSettings) -> float:
    """Seconds before the pod after the n-th transient failure: doubling, capped."""
    delay = settings.restart_backoff_seconds * 2 ** max(0, failures - 1)
    return float(min(delay, settings.restart_backoff_max_seconds))


def _condition(
    prev: dict[str, Any], kind: str, true: bool, reason: str, message: str, gen: int, now: str
) -> dict[str, Any]:
    """A metav1.Condition; its lastTransitionTime moves only when its status flips."""
    status = "True" if true else "False"
    old = next((c for c in prev.get("conditions") or [] if c.get("type") == kind), None)
    since = old["lastTransitionTime"] if old and old.get("status") == status else now
    return {
        "type": kind,
        "status": status,
        "observedGeneration": gen,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def _status(
    prev: dict[str, Any], gen: int, now: datetime, phase: str, reason: str, message: str,
    **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    """The whole status for `phase`: Ready only when Live; Stalled when Failed; Reconciling
    while on the way. kstatus (Flux, kpt) reads these three: Stalled is Failed, Reconciling is
    InProgress, and then a Ready that is not True is InProgress too. So a cast at rest
    (Completed, Suspended) has no Ready condition at all: Current, or `flux reconcile --wait`
    would wait on an ended cast forever (tests/gitops/test_kstatus.py)."""
    stamp = iso(now)
    on_the_way = phase in ("Pending", "Starting")
    at_rest = phase in ("Completed", "Suspended")
    status = {k: v for k, v in prev.items() if k not in ("conditions", "message", "phase")}
    status |= {k: v for k, v in fields.items() if v is not None}
    ready = [] if at_rest else [_condition(prev, "Ready", phase == "Live", reason, message, gen,
                                           stamp)]  # fmt: skip
    status |= {
        "phase": phase,
        "observedGeneration": gen,
        "message": message,
        "conditions": [
            *ready,
            _condition(prev, "Reconciling", on_the_way, reason, message, gen, stamp),
            _condition(prev, "Stalled", phase == "Failed", reason, message, gen, stamp),
        ],
    }
    return status


def _rested(status: dict[str, Any]) -> dict[str, Any]:
    """A Completed status as `_status` writes it now: one written before casts at rest lost
    their Ready condition loses it on its next pass, once (kstatus would read it InProgress)."""
    if status.get("phase") != "Completed":
        return status
    kept = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
    return status | {"conditions": kept} if "conditions" in status else status


def _attempt_of(name: str | None) -> int:
    tail = (name or "").rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def decide(
    cast: dict[str, Any],
    pods: list[dict[str, Any]],
    secrets: dict[str, set[str]],
    now: datetime,
    settings: ControllerSettings,
    may_start: bool = True,
    reports: dict[str, Facts] | None = None,
) -> Outcome:
    """The cast's status and next step, from the cast, its pods and its namespace's Secrets
    (names and keys only). `may_start` is False while every session slot is taken
    (`max_sessions`): then no new pod, and the cast waits in Pending. `reports`: the newest
    live facts each of its pods reported (`spacecast.session.report`), by pod name."""
    out = _decide(cast, pods, secrets, now, settings, reports or {})
    if out.step.create is None or may_start:
        return out
    prev, gen = cast.get("status") or {}, int(cast["metadata"].get("generation") or 1)
    msg = f"waiting for a free session slot ({settings.max_sessions} in use)"
    status = _status(prev, gen, now, "Pending", "WaitingForCapacity", msg)
    events = [] if reason_of(prev, "Ready") == "WaitingForCapacity" else [
        ("Normal", "WaitingForCapacity", msg)
    ]  # fmt: skip
    return Outcome(status, Step(delete=out.step.delete), events)


def _decide(
    cast: dict[str, Any],
    pods: list[dict[str, Any]],
    secrets: dict[str, set[str]],
    now: datetime,
    settings: ControllerSettings,
    reports: dict[str, Facts],
) -> Outcome:
    prev, gen = cast.get("status") or {}, int(cast["metadata"].get("generation") or 1)
    if prev.get("phase") in TERMINAL and prev.get("observedGeneration") == gen:
        return Outcome(_rested(prev))  # done; a spec change (a new generation) runs it again
    try:
        spec = api.parse_spec(cast)
    except ValueError as exc:
        return _failed(prev, gen, now, "InvalidSpec", f"the spec cannot run: {exc}")
    rerun = prev.get("phase") in TERMINAL  # with a new generation
    current = max(pods, key=_attempt, default=None)
    if spec.suspend:
        return _suspend(prev, gen, now, current)
    # The exit of a pod made for an older spec says nothing about this one: start afresh.
    outdated = current is not None and ended(current) is not None and _generation(current) < gen
    if current is not None and not rerun and not outdated:
        if current["metadata"].get("deletionTimestamp"):
            ours = prev.get("phase") == "Suspended" or reason_of(prev, "Reconciling") in OURS
            reason = "Replacing" if ours else "PodTerminating"
            return Outcome(_status(prev, gen, now, "Starting", reason,
                                   "waiting for the previous pod to go"))  # fmt: skip
        if (how := ended(current)) is not None:
            older = tuple(p["metadata"]["name"] for p in pods if _attempt(p) < _attempt(current))
            return _after_exit(cast, prev, gen, now, current, how, spec, settings, older)
        return _running(cast, prev, gen, now, current, settings, reports)
    return _start(cast, prev, gen, now, spec, secrets, settings, rerun, current)


def refused(cast: dict[str, Any], message: str) -> Outcome:
    """The cast whose pod the apiserver refused (a quota, a policy, impossible resources)."""
    prev, gen = cast.get("status") or {}, int(cast["metadata"].get("generation") or 1)
    return _failed(prev, gen, datetime.now(UTC), "InvalidSpec", message)


def _failed(prev: dict[str, Any], gen: int, now: datetime, reason: str, msg: str) -> Outcome:
    status = _status(prev, gen, now, "Failed", reason, msg, endTime=iso(now))
    return Outcome(status, events=[("Warning", "Failed", msg)] if prev.get("phase") != "Failed"
                   else [])  # fmt: skip


def _suspend(
    prev: dict[str, Any], gen: int, now: datetime, current: dict[str, Any] | None
) -> Outcome:
    active = (
        current is not None
        and ended(current) is None
        and not current["metadata"].get("deletionTimestamp")
    )
    status = _status(prev, gen, now, "Suspended", "Suspended", "suspended by spec.suspend")
    events = [("Normal", "Suspended", "the cast is suspended")]
    step = Step(delete=(current["metadata"]["name"],)) if active and current else Step()
    return Outcome(status, step, events if prev.get("phase") != "Suspended" else [])


def _start(
    cast: dict[str, Any],
    prev: dict[str, Any],
    gen: int,
    now: datetime,
    spec: api.SpaceCastSpec,
    secrets: dict[str, set[str]],
    settings: ControllerSettings,
    rerun: bool,
    current: dict[str, Any] | None,
) -> Outcome:
    """No pod runs: start one, unless a Secret is missing or the spec cannot run."""
    reset = {"restarts": 0} if rerun else {}  # a finished cast run again starts counting anew
    if missing := missing_secrets(spec, secrets):
        msg = f"waiting for Secret key {', '.join(missing)}"
        return Outcome(_status(prev, gen, now, "Pending", "SecretMissing", msg, **reset))
    failures = 0 if rerun else int(prev.get("restarts") or 0)
    lost = (
        not rerun
        and prev.get("podName")
        and prev.get("phase") in ("Starting", "Live")
        and reason_of(prev, "Reconciling") not in OURS
        and (current is None or _generation(current) == gen)
    )
    if lost:  # the pod vanished under us: deleted, or its node lost
        failures += 1
        if failures > spec.limits.max_restarts:
            return _failed(prev, gen, now, "PodLost",
                           f"the pod was lost and {failures - 1} restarts are spent")  # fmt: skip
    attempt = max(_attempt_of(prev.get("podName")), _attempt(current) if current else -1) + 1
    try:
        pod = _new_pod(cast, attempt, settings, failures, gen, spec, prev, now)
    except InvalidCast as exc:
        return _failed(prev, gen, now, "InvalidSpec", f"the spec cannot run: {exc}")
    if pod is None:
        return _max_duration_reached(prev, gen, now)
    name = pod["metadata"]["name"]
    status = _status(
        prev, gen, now, "Pending", "PodCreated", f"created pod {name}",
        podName=name, restarts=failures,
    )  # fmt: skip
    if rerun:
        status.pop("endTime", None)
    stale = (current["metadata"]["name"],) if current else ()
    return Outcome(status, Step(create=pod, delete=stale),
                   [("Normal", "PodCreated", f"created pod {name}")])  # fmt: skip


def reason_of(status: dict[str, Any], kind: str) -> str | None:
    """The reason of a status's condition `kind` (Ready, Reconciling, Stalled), if set."""
    return next(
        (c.get("reason") for c in status.get("conditions") or [] if c.get("type") == kind), None
    )


def _running(
    cast: dict[str, Any],
    prev: dict[str, Any],
    gen: int,
    now: datetime,
    pod: dict[str, Any],
    settings: ControllerSettings,
    reports: dict[str, Facts],
) -> Outcome:
    name = pod["metadata"]["name"]
    try:
        want = desired_pod(cast, _attempt(pod), settings)["metadata"]["annotations"]
    except InvalidCast as exc:
        return _failed(prev, gen, now, "InvalidSpec", f"the spec cannot run: {exc}")
    have = pod["metadata"].get("annotations") or {}
    if want[api.SPEC_HASH_ANNOTATION] != have.get(api.SPEC_HASH_ANNOTATION):
        msg = f"the spec changed: replacing pod {name}"
        status = _status(prev, gen, now, "Starting", "SpecChanged", msg, podName=name)
        return Outcome(status, Step(delete=(name,)), [("Normal", "Replacing", msg)])
    phase = _pod_phase(pod)
    reason, msg = {
        "Live": ("Live", "media is flowing"),
        "Starting": ("Starting", f"pod {name} is starting"),
        "Pending": ("PodPending", f"pod {name} is waiting to be scheduled"),
    }[phase]
    started = prev.get("startTime") or (iso(now) if phase == "Live" else None)
    facts = reports.get(name)
    status = _status(prev, gen, now, phase, reason, msg, podName=name, startTime=started,
                     restarts=_failures(pod),
                     audioSource=facts.audio_source if facts else None)  # fmt: skip
    if phase == "Live" and (silent := _silent(prev, name, facts, gen, now)):
        status["conditions"].append(silent)
    events = (
        [("Normal", "Live", f"pod {name} is live")] if phase == "Live" != prev.get("phase") else []
    )
    return Outcome(status, events=events)


def _silent(
    prev: dict[str, Any], pod: str, facts: Facts | None, gen: int, now: datetime
) -> dict[str, Any] | None:
    """The Silent condition of a Live cast, from its pod's newest report; the one in the
    status stands while no report is at hand (Events expire after an hour)."""
    if facts is None:
        old = next((c for c in prev.get("conditions") or [] if c.get("type") == "Silent"), None)
        return old if old and prev.get("podName") == pod else None
    reason, msg = ("Silent", "the cast's audio is below the silence threshold") if facts.silent \
        else ("Audible", "the cast's audio is above the silence threshold")  # fmt: skip
    return _condition(prev, "Silent", facts.silent, reason, msg, gen, iso(now))


def _after_exit(
    cast: dict[str, Any],
    prev: dict[str, Any],
    gen: int,
    now: datetime,
    pod: dict[str, Any],
    how: Ended,
    spec: api.SpaceCastSpec,
    settings: ControllerSettings,
    older: tuple[str, ...],
) -> Outcome:
    """The session exited: done, failed for good, or a new pod after a backoff (the ended
    pod stays for `kubectl logs` until the one after it ends; older ones go)."""
    name = pod["metadata"]["name"]
    said = how.summary.message if how.summary and how.summary.message else how.reason
    facts: dict[str, Any] = {"podName": name, "lastExitCode": how.code,
                             "lastExitReason": how.reason}  # fmt: skip
    if how.summary and how.summary.audio_source != "none":
        facts["audioSource"] = how.summary.audio_source
    if how.klass is ExitClass.SUCCESS:
        msg = (
            "the Space ended" if how.reason != "MaxDurationReached" else "maximum duration reached"
        )
        status = _status(prev, gen, now, "Completed", "Completed", msg, endTime=iso(now), **facts)
        return Outcome(status, events=[("Normal", "Completed", msg)])
    if how.klass is ExitClass.PERMANENT:
        out = _failed(prev, gen, now, how.reason, f"exit {how.code} (permanent): {said}")
        out.status |= facts
        return out
    failures = _failures(pod) + 1
    if failures > spec.limits.max_restarts:
        msg = f"exit {how.code} ({how.reason}) after {failures - 1} restarts: {said}"
        out = _failed(prev, gen, now, "RestartsExhausted", msg)
        out.status |= facts | {"restarts": failures - 1}
        return out
    finished = _finished_at(pod) or now
    wait = backoff(failures, settings) - (now - finished).total_seconds()
    told = reason_of(prev, "Reconciling") == "Restarting"  # this exit was seen by an earlier pass
    restarting = [] if told else [
        ("Warning", "Restarting", f"exit {how.code} ({how.reason}), transient: {said}")
    ]  # fmt: skip
    if wait > 0:
        msg = f"restarting in {wait:.0f} s after exit {how.code} ({how.reason}): {said}"
        status = _status(prev, gen, now, "Starting", "Restarting", msg, **facts)
        return Outcome(status, Step(after=wait), restarting)
    next_pod = _new_pod(cast, _attempt(pod) + 1, settings, failures, gen, spec, prev, now)
    if next_pod is None:
        return _max_duration_reached(prev, gen, now)
    new = next_pod["metadata"]["name"]
    status = _status(prev, gen, now, "Starting", "PodCreated", f"created pod {new}",
                     **(facts | {"podName": new, "restarts": failures}))  # fmt: skip
    return Outcome(status, Step(create=next_pod, delete=older),
                   [*restarting, ("Normal", "PodCreated", f"created pod {new}")])  # fmt: skip


def _new_pod(
    cast: dict[str, Any], attempt: int, settings: ControllerSettings, failures: int, gen: int,
    spec: api.SpaceCastSpec, prev: dict[str, Any], now: datetime,
) -> dict[str, Any] | None:  # fmt: skip
    """The next pod, or None when the cast's maximum duration is already spent: the limit is
    the cast's, counted from when it first went live, not each pod's."""
    deadline = None
    if limit := spec.limits.max_duration_seconds:
        started = _parse_time(prev.get("startTime"))
        deadline = int(limit - ((now - started).total_seconds() if started else 0))
        if deadline <= 0:
            return None
    pod = desired_pod(cast, attempt, settings, deadline_s=deadline)
    pod["metadata"]["annotations"] |= {
        FAILURES_ANNOTATION: str(failures),
        GENERATION_ANNOTATION: str(gen),
    }
    return pod


def _max_duration_reached(prev: dict[str, Any], gen: int, now: datetime) -> Outcome:
    msg = "maximum duration reached"
    status = _status(prev, gen, now, "Completed", "Completed", msg, endTime=iso(now))
    return Outcome(status, events=[("Normal", "Completed", msg)])


def _finished_at(pod: dict[str, Any]) -> datetime | None:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (container.get("state") or {}).get("terminated")
        if term:
            return _parse_time(term.get("finishedAt"))
    return None
