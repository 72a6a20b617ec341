"""The signals alerts stand on, measured on a real session casting the simulator: the push
bitrate follows speech as on X (the speaker grid animates while people speak), so a speaking
cast and a silent one are told apart by bitrate alone, at the default encoder settings."""

from __future__ import annotations

from .conftest import CastRun, MakeSim, StartCast, cast_sim, space_lever, wait_for

SPEAKING_BPS = 1_000_000  # X pushes 1.3-1.6 Mbit/s while people speak
SILENT_BPS = 300_000  # and about 150 kbit/s when nobody does
HELD_S = 10  # two of the session's 5 s bitrate windows


def held(run: CastRun, what: str, ok: object, within_s: float) -> list[float]:
    """Wait until the bitrate meets `ok` at every reading for HELD_S seconds on end; return
    those readings."""
    readings: list[float] = []

    def steady() -> bool:
        rate = run.metric("spacecast_push_bitrate_bits_per_second")
        print(f"{what}: {rate:.0f}")
        readings.append(rate)
        if not ok(rate):  # type: ignore[operator]
            readings.clear()
        return len(readings) > HELD_S

    wait_for(what, steady, within_s, every=1.0)
    return readings


def test_speech_pushes_at_x_rate_and_silence_idles(make_sim: MakeSim, cast: StartCast) -> None:
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace09,start=-30,duration=0")
    run = cast(sim, "1AudioSpace09", display=167)
    wait_for("readiness", run.ready, 60)
    held(run, "speech at X's bitrate", lambda r: r >= SPEAKING_BPS, 60)

    assert space_lever(sim, "1AudioSpace09", "silence")["silent"] is True
    held(run, "a silent Space's idle bitrate", lambda r: r <= SILENT_BPS, 60)
    assert run.metric("spacecast_audio_level_dbfs") < -60

    assert space_lever(sim, "1AudioSpace09", "speak")["silent"] is False
    held(run, "speech at X's bitrate again", lambda r: r >= SPEAKING_BPS, 60)
    assert run.metric("spacecast_audio_level_dbfs") > -30
