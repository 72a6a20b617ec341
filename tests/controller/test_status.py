"""decide(): from a cast, its pods and its Secrets to a status and one step (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller import status as st
from controller.settings import ControllerSettings
from spacecast.contract import EXITS, ExitClass, ExitCode, Facts, Summary

from .test_pod import cast

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
SETTINGS = ControllerSettings(session_image="s:t", restart_backoff_seconds=10)
SECRETS = {"ingest": {"url"}}


def decide(c: dict[str, Any], pods: list[dict[str, Any]], at: datetime = NOW,
           secrets: dict[str, set[str]] | None = None) -> st.Outcome:  # fmt: skip
    return st.decide(c, pods, SECRETS if secrets is None else secrets, at, SETTINGS)


def with_status(c: dict[str, Any], outcome: st.Outcome) -> dict[str, Any]:
    return c | {"status": outcome.status}


def running(p: dict[str, Any], ready: bool) -> dict[str, Any]:
    conditions = [{"type": "PodScheduled", "status": "True"},
                  {"type": "Ready", "status": "True" if ready else "False"}]  # fmt: skip
    return p | {"status": {"phase": "Running", "conditions": conditions}}


def exited(p: dict[str, Any], code: int, at: datetime = NOW, **summary: Any) -> dict[str, Any]:
    line = Summary("1AudioSpace01", "failed" if code else "space_ended", code, **summary).line()
    term = {"exitCode": code, "message": line, "finishedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return p | {"status": {"phase": "Succeeded" if code == 0 else "Failed",
                           "containerStatuses": [{"name": "session",
                                                  "state": {"terminated": term}}]}}  # fmt: skip


def conditions(outcome: st.Outcome) -> dict[str, str]:
    return {c["type"]: c["status"] for c in outcome.status["conditions"]}


def first_pod() -> tuple[dict[str, Any], dict[str, Any]]:
    c = cast()
    out = decide(c, [])
    assert out.step.create is not None
    return with_status(c, out), out.step.create


def test_first_sight_creates_the_pod_and_says_not_ready() -> None:
    out = decide(cast(), [])
    assert out.step.create is not None and out.step.create["metadata"]["name"] == "talk-0"
    assert out.status["phase"] == "Pending" and out.status["observedGeneration"] == 1
    assert conditions(out) == {"Ready": "False", "Reconciling": "True", "Stalled": "False"}
    assert [e[1] for e in out.events] == ["PodCreated"]


def test_ready_pod_is_live_and_a_repeat_changes_nothing() -> None:
    c, p = first_pod()
    live = decide(c, [running(p, ready=True)])
    assert live.status["phase"] == "Live" and conditions(live)["Ready"] == "True"
    assert live.step == st.Step() and [e[1] for e in live.events] == ["Live"]
    again = decide(with_status(c, live), [running(p, ready=True)], NOW + timedelta(minutes=5))
    assert again.status == live.status and again.events == []  # no write, no event


def test_a_live_casts_reports_become_its_audio_source_and_silent_condition() -> None:
    c, p = first_pod()
    pod = running(p, ready=True)

    def live(c: dict[str, Any], **reports: Facts) -> st.Outcome:
        return st.decide(c, [pod], SECRETS, NOW, SETTINGS, reports=reports)

    plain = live(c)
    assert "audioSource" not in plain.status and "Silent" not in conditions(plain)
    other = live(c, **{"talk-9": Facts("rescue", True)})  # not this cast's pod
    assert "audioSource" not in other.status and "Silent" not in conditions(other)
    rescued = live(c, **{"talk-0": Facts("rescue", True)})
    assert rescued.status["audioSource"] == "rescue" and conditions(rescued)["Silent"] == "True"
    back = live(with_status(c, rescued), **{"talk-0": Facts("rescue", False)})
    assert conditions(back)["Silent"] == "False" and back.status["audioSource"] == "rescue"
    expired = live(with_status(c, back))  # its Events gone after an hour: the status stands
    assert expired.status == back.status
    ended = st.decide(with_status(c, back), [exited(p, 0)], SECRETS, NOW, SETTINGS)
    assert ended.status["phase"] == "Completed" and "Silent" not in conditions(ended)


def test_a_pod_is_created_once_whatever_repeats() -> None:
    """The pass after the create sees its own pod (write-through) or, after a crash, the
    status naming it: never a second pod."""
    c, p = first_pod()
    assert decide(c, [p]).step.create is None


@pytest.mark.parametrize("code", list(ExitCode))
def test_every_exit_code_has_its_handling(code: ExitCode) -> None:
    c, p = first_pod()
    out = decide(c, [exited(p, int(code))], NOW + timedelta(seconds=1))
    klass = EXITS[code].klass
    expected = {ExitClass.SUCCESS: "Completed", ExitClass.PERMANENT: "Failed",
                ExitClass.TRANSIENT: "Starting"}[klass]  # fmt: skip
    assert out.status["phase"] == expected
    assert out.status["lastExitCode"] == int(code)
    if klass is ExitClass.TRANSIENT:  # a new pod, after the backoff
        assert out.step.after is not None and 8 <= out.step.after <= 10
        assert [e[1] for e in out.events] == ["Restarting"]
        late = decide(c, [exited(p, int(code))], NOW + timedelta(seconds=11))
        assert [e[1] for e in late.events] == ["Restarting", "PodCreated"]


def test_transient_failures_back_off_then_give_up() -> None:
    c, p = first_pod()
    for failures in range(1, 6 + 1):
        ended = exited(p, 31)
        wait = decide(c, [ended], NOW)
        if failures > 5:  # maxRestarts defaults to 5
            assert wait.status["phase"] == "Failed" and wait.status["restarts"] == 5
            assert conditions(wait)["Stalled"] == "True"
            return
        assert wait.step.after is not None
        assert wait.step.after == pytest.approx(10 * 2 ** (failures - 1))
        later = decide(c, [ended], NOW + timedelta(seconds=wait.step.after + 1))
        assert later.step.create is not None
        p = later.step.create
        assert p["metadata"]["name"] == f"talk-{failures}"
        assert p["metadata"]["annotations"][st.FAILURES_ANNOTATION] == str(failures)
        c = with_status(c, later)
    raise AssertionError("never gave up")


def test_what_the_kubelet_reports_instead_of_an_exit() -> None:
    c, p = first_pod()
    oom = exited(p, 137)
    oom["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] = "OOMKilled"
    assert decide(c, [oom]).status["lastExitReason"] == "OOMKilled"
    evicted = p | {"status": {"phase": "Failed", "reason": "Evicted"}}
    assert decide(c, [evicted]).status["phase"] == "Starting"
    deadline = p | {"status": {"phase": "Failed", "reason": "DeadlineExceeded"}}
    assert decide(c, [deadline]).status["phase"] == "Completed"


def test_a_lost_pod_is_replaced_and_counted() -> None:
    c, p = first_pod()
    live = with_status(c, decide(c, [running(p, ready=True)]))
    out = decide(live, [])
    assert out.step.create is not None and out.step.create["metadata"]["name"] == "talk-1"
    assert out.status["restarts"] == 1


def test_a_missing_secret_waits_without_a_pod() -> None:
    out = decide(cast(), [], secrets={"ingest": {"other"}})
    assert out.step == st.Step() and out.status["phase"] == "Pending"
    assert "ingest/url" in out.status["message"] and conditions(out)["Stalled"] == "False"


def test_suspend_stops_the_pod_and_resume_starts_the_next() -> None:
    c, p = first_pod()
    c["spec"]["suspend"] = True
    out = decide(c, [running(p, ready=True)])
    assert out.status["phase"] == "Suspended" and out.step.delete == ("talk-0",)
    c["spec"]["suspend"] = False
    resumed = decide(with_status(c, out), [])
    assert resumed.step.create is not None and resumed.step.create["metadata"]["name"] == "talk-1"
    assert resumed.status["restarts"] == 0


def test_a_spec_change_replaces_the_pod_without_counting_a_failure() -> None:
    c, p = first_pod()
    live = with_status(c, decide(c, [running(p, ready=True)]))
    live["spec"]["video"] = {"fps": 25}
    live["metadata"]["generation"] = 2
    out = decide(live, [running(p, ready=True)])
    assert out.step.delete == ("talk-0",) and out.status["observedGeneration"] == 2
    after = decide(with_status(live, out), [])
    assert after.step.create is not None and after.status["restarts"] == 0


def test_terminal_is_terminal_until_the_spec_changes() -> None:
    c, p = first_pod()
    done = with_status(c, decide(c, [exited(p, 0)]))
    assert done["status"]["phase"] == "Completed"
    assert decide(done, []).step == st.Step() and decide(done, []).status == done["status"]
    done["metadata"]["generation"] = 2
    assert decide(done, [exited(p, 0)]).step.create is not None


def test_a_cast_at_rest_has_no_ready_condition_even_one_written_before() -> None:
    """kstatus reads a Ready that is not True as work in progress: Completed and Suspended
    carry none, and a Completed status from before loses its Ready on its next pass, once."""
    c, p = first_pod()
    done = with_status(c, decide(c, [exited(p, 0)]))
    assert conditions(decide(c, [exited(p, 0)])) == {"Reconciling": "False", "Stalled": "False"}
    old = {"type": "Ready", "status": "False", "reason": "Completed", "message": "ended"}
    written_before = done | {"status": done["status"] | {
        "conditions": [old, *done["status"]["conditions"]]}}  # fmt: skip
    assert decide(written_before, []).status == done["status"]  # a write that drops it
    assert decide(done, []).status == done["status"]  # and then nothing more
    c["spec"]["suspend"] = True
    assert "Ready" not in conditions(decide(c, []))


def test_conditions_keep_their_transition_time() -> None:
    c, p = first_pod()
    live = with_status(c, decide(c, [running(p, ready=True)]))
    later = decide(live, [running(p, ready=True)], NOW + timedelta(hours=1))
    times = {x["type"]: x["lastTransitionTime"] for x in later.status["conditions"]}
    assert times["Ready"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_sigterm_not_ours_is_transient() -> None:
    c, p = first_pod()
    out = decide(c, [exited(p, 0) | {}], NOW)
    assert out.status["phase"] == "Completed"  # the Space ended (reason space_ended)
    killed = exited(p, 0)
    line = Summary("1AudioSpace01", "terminated", 0).line()
    killed["status"]["containerStatuses"][0]["state"]["terminated"]["message"] = line
    out = decide(c, [killed], NOW)
    assert out.status["phase"] == "Starting" and out.status["lastExitReason"] == "Terminated"


def test_a_replacement_is_not_a_loss_even_through_termination() -> None:
    c, p = first_pod()
    live = with_status(c, decide(c, [running(p, ready=True)]))
    live["spec"]["video"] = {"fps": 25}
    live["metadata"]["generation"] = 2
    replacing = with_status(live, decide(live, [running(p, ready=True)]))
    deleting = running(p, ready=True)
    deleting["metadata"] = p["metadata"] | {"deletionTimestamp": "2026-12-01T12:00:00Z"}
    waiting = with_status(replacing, decide(replacing, [deleting]))
    out = decide(waiting, [])
    assert out.step.create is not None and out.status["restarts"] == 0


def test_a_finished_cast_run_again_does_not_fall_back_to_its_old_exit() -> None:
    c, p = first_pod()
    done = with_status(c, decide(c, [exited(p, 0)]))
    done["metadata"]["generation"] = 2
    waiting = decide(done, [exited(p, 0)], secrets={})  # the new spec's Secret is not there yet
    assert waiting.status["phase"] == "Pending" and waiting.status["restarts"] == 0
    again = decide(with_status(done, waiting), [exited(p, 0)])
    assert again.status["phase"] == "Pending" and again.step.create is not None


def test_the_max_duration_is_the_casts_not_each_pods() -> None:
    c = cast(limits={"maxDurationSeconds": 600})
    first = decide(c, [])
    assert first.step.create is not None
    assert first.step.create["spec"]["activeDeadlineSeconds"] == 600
    p = first.step.create
    live = with_status(c, decide(with_status(c, first), [running(p, ready=True)]))
    later = NOW + timedelta(seconds=400)
    restart = decide(live, [exited(p, 31, at=later)], later + timedelta(seconds=20))
    assert restart.step.create is not None
    assert restart.step.create["spec"]["activeDeadlineSeconds"] == 600 - 420
    spent = decide(live, [exited(p, 31, at=later)], NOW + timedelta(seconds=700))
    assert spent.status["phase"] == "Completed" and spent.step.create is None
