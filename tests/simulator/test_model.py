from __future__ import annotations

import pytest

from simulator.clock import SimClock
from simulator.model import Space, SpaceSpec, SpaceState, parse_disconnect
from spacecast.errors import UserError


def space(**spec: object) -> Space:
    return Space.from_spec(SpaceSpec.model_validate(spec), 0, 1, now=1000.0)


def test_state_machine_follows_the_clock() -> None:
    s = space(start=10, duration=60)
    assert s.state(1009.9) is SpaceState.NOT_STARTED
    assert s.state(1010) is SpaceState.RUNNING
    assert s.state(1069.9) is SpaceState.RUNNING
    assert s.state(1070) is SpaceState.ENDED
    assert s.elapsed(5000) == 60


def test_open_ended_space_runs_until_ended_by_hand() -> None:
    s = space(start=0, duration=0)
    assert s.state(10**9) is SpaceState.RUNNING
    s.end(2000)
    assert s.state(2000) is SpaceState.ENDED
    assert s.elapsed(3000) == 1000


def test_host_disconnect_windows() -> None:
    s = space(start=0)
    s.disconnects.append(parse_disconnect("30:10"))
    assert not s.host_away(1029.9)
    assert s.host_away(1030)
    assert not s.host_away(1040)


def test_space_spec_parsing() -> None:
    spec = SpaceSpec.parse("kind=camera, start=-5, replay=no, id=1OdJrXyZaBcDe")
    assert (spec.kind, spec.start, spec.replay, spec.id) == ("camera", -5, False, "1OdJrXyZaBcDe")


@pytest.mark.parametrize("text", ["kind=video", "start", "id=123", "duration=abc"])
def test_bad_space_specs_are_user_errors(text: str) -> None:
    with pytest.raises(UserError):
        SpaceSpec.parse(text)


def test_clock_speed_and_advance() -> None:
    clock = SimClock(speed=0, origin=100.0)
    assert clock.now() == 100.0
    clock.advance(5)
    assert clock.now() == 105.0


def test_the_silence_lever_marks_spans_from_now_on() -> None:
    s = space(start=0, duration=0)
    s.fall_silent(1030)
    s.fall_silent(1035)  # already silent: the span keeps its start
    assert not s.silent_at(29.9) and s.silent_at(30) and s.silent_at(10**6)
    s.speak(1040)
    s.speak(1045)  # already speaking: nothing to close
    assert s.silences == [(30, 40)]
    assert s.silent_at(39.9) and not s.silent_at(40)
