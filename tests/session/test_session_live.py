"""Real sessions: Xvfb, PulseAudio, Debian's Chromium, ffmpeg and our RTMP publishers against
the simulator and nginx-rtmp as X's ingest. Each test waits on conditions it can observe: the
session's metrics, its logs, its exit, and what the ingest recorded."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from controller.kube import Kube
from devcluster.cluster import ControlPlane
from simulator.server import Simulator
from spacecast.contract import REPORTER, Summary
from spacecast.session.local import free_display, free_port
from tests.procfs import proc_text, tree_pids
from tests.reporting import report_flags, session_account

from .conftest import (
    AUTH_TOKEN,
    CT0,
    STREAM_KEY,
    CastRun,
    MakeSim,
    StartCast,
    cast_sim,
    ingest_fault,
    mean_volume,
    packet_times,
    probe,
    tone_excess_db,
    wait_for,
)
from .rtmp_faults import FaultyIngest, InThread

pytestmark = pytest.mark.slow


def chromium_main_pid(runtime: Path) -> int | None:
    out = subprocess.run(
        ["pgrep", "-f", f"user-data-dir={runtime}/chromium-profile"], capture_output=True, text=True
    ).stdout.split()
    for pid in map(int, out):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and b"chromium" in args[0] and not any(a.startswith(b"--type=") for a in args):
            return pid
    return None


def end_space(sim: Simulator, space_id: str) -> None:
    entry = sim.world.by_id(space_id)
    assert entry is not None
    entry.space.end(sim.world.now())


def secrets_in(text: str) -> list[str]:
    return [s for s in (STREAM_KEY, AUTH_TOKEN, CT0) if s in text]


def test_audio_space_cast(make_sim: MakeSim, cast: StartCast) -> None:
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace01,start=-30,duration=0")
    run: CastRun = cast(sim, "1AudioSpace01", display=151)
    runtime = run.runtime_dir

    # On air: publishing, with the bitrate and the level of real speech in the metrics.
    wait_for("readiness", run.ready, 60)
    wait_for(
        "speech-level audio and bitrate in the metrics",
        lambda: (
            run.metric("spacecast_audio_level_dbfs") > -30
            and run.metric("spacecast_push_bitrate_bits_per_second") > 100_000
        ),
        30,
    )
    assert run.metric("spacecast_rtmp_destination_up{destination=0}") == 1

    # Secrets appear nowhere: the arguments and environment of the session and every process
    # it started (Xvfb, PulseAudio, Playwright's driver, Chromium's, ffmpeg's), the metrics.
    tree = tree_pids(run.proc.pid)
    names = {proc_text(pid, "comm").strip() for pid in tree}
    assert {"Xvfb", "pulseaudio", "ffmpeg", "chromium"} <= names, names
    exposed = {
        pid: secrets_in(proc_text(pid, "cmdline") + proc_text(pid, "environ")) for pid in tree
    }
    assert {pid: found for pid, found in exposed.items() if found} == {}
    assert secrets_in(str(run.metrics())) == []

    # Chromium killed: relaunched, rejoined, audio back.
    pid = wait_for("Chromium's main process", lambda: chromium_main_pid(runtime), 10)
    os.kill(pid, signal.SIGKILL)
    wait_for(
        "a browser restart",
        lambda: run.metric("spacecast_process_restarts_total{process=browser}") >= 1,
        30,
    )
    wait_for(
        "the page listening again",
        lambda: (
            run.metric("spacecast_page_media_ready_state") >= 3
            and chromium_main_pid(runtime) not in (None, pid)
        ),
        60,
    )
    wait_for("audio back", lambda: run.metric("spacecast_audio_level_dbfs") > -30, 30)

    # The ingest restarted mid-cast: the destination reconnects and bytes flow again.
    assert sim.ingest is not None
    sim.ingest.stop()
    wait_for(
        "the drop noticed",
        lambda: run.metric("spacecast_rtmp_destination_up{destination=0}") == 0,
        30,
    )
    sim.ingest.start()
    wait_for(
        "the reconnect",
        lambda: (
            run.metric("spacecast_rtmp_reconnects_total{destination=0}") >= 1
            and run.metric("spacecast_rtmp_destination_up{destination=0}") == 1
        ),
        60,
    )
    _more_bytes_on_air(run, "bytes after the reconnect", 200_000, 30)

    # The Space ends: exit 0 with the summary.
    end_space(sim, "1AudioSpace01")
    assert run.wait_exit(60) == 0
    summary = run.summary()
    assert summary["reason"] == "space_ended" and summary["exit_code"] == 0
    assert summary.keys() == set(Summary.__dataclass_fields__)  # as every early exit writes
    assert summary["reconnects"] >= 1 and summary["bytes_sent"] > 200_000
    assert secrets_in(run.log_text()) == []

    # What the ingest received: H.264 at the configured size, AAC speech above -30 dB.
    recording = max(sim.ingest.recordings(), key=lambda p: p.stat().st_size)
    streams = {s["codec_type"]: s for s in probe(recording)["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    assert streams["audio"]["codec_name"] == "aac"
    assert mean_volume(recording) > -30


def _more_bytes_on_air(run: CastRun, what: str, more: int, within_s: float) -> None:
    """Wait until destination 0 has sent `more` bytes beyond what it has sent so far."""
    sent_bytes = "spacecast_rtmp_sent_bytes_total{destination=0}"
    sent = run.metric(sent_bytes)
    wait_for(what, lambda: run.metric(sent_bytes) > sent + more, within_s)


def _log_time(run: CastRun, event: str, **fields: str) -> datetime:
    line = next(
        e
        for e in run.logs()
        if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
    )
    return datetime.fromisoformat(line["timestamp"])


def test_camera_space_is_rescued_with_rendition_0_only(
    make_sim: MakeSim, cast: StartCast, control_plane: ControlPlane, k8s_api: client.ApiClient,
    k8s_namespace: str, tmp_path: Path,
) -> None:  # fmt: skip
    """...and says so to the apiserver, as a SpaceCast's pod does: Events about its cast, with
    the shipped Events-only account's token."""
    sim = cast_sim(make_sim, "kind=camera,id=1CameraSpace1,start=-30,duration=0")
    kube = Kube(k8s_api, user_agent="spacecast-tests")
    token = session_account(kube, k8s_namespace, tmp_path)
    flags = report_flags(control_plane, k8s_namespace, "cam", "cam-0", token)
    run: CastRun = cast(sim, "1CameraSpace1", display=152, extra_args=tuple(flags))

    wait_for("the rescue", lambda: run.metric("spacecast_rescue_activations_total") >= 1, 45)
    listening = _log_time(run, "browser state", state="listening")
    rescued = _log_time(run, "rescue state", state="active")
    assert (rescued - listening).total_seconds() <= 15
    assert run.metric("spacecast_audio_source{spacecast_audio_source=rescue}") == 1
    assert run.metric("spacecast_page_media_ready_state") == 1  # the page's player stays starved
    wait_for(
        "rescued audio in the sink", lambda: run.metric("spacecast_audio_level_dbfs") > -30, 30
    )
    _more_bytes_on_air(run, "10 s more on air", 250_000, 40)

    def reported() -> list[str]:
        items = kube.request(
            "GET",
            f"/api/v1/namespaces/{k8s_namespace}/events",
            {"fieldSelector": f"reportingComponent={REPORTER}"},
        )["items"]
        return [e["reason"] for e in items if e["involvedObject"]["name"] == "cam"
                and e["reportingInstance"] == "cam-0"]  # fmt: skip

    wait_for(
        "the Casting and Rescued Events", lambda: {"Casting", "Rescued"} <= set(reported()), 30
    )

    end_space(sim, "1CameraSpace1")
    assert run.wait_exit(60) == 0
    assert run.summary()["audio_source"] == "rescue"
    assert not secrets_in(run.log_text()) and token.read_text() not in run.log_text()
    assert sim.ingest is not None
    recording = max(sim.ingest.recordings(), key=lambda p: p.stat().st_size)
    clip = recording.with_suffix(".rescued.wav")  # the part after the rescue engaged
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-sseof",
            "-12",
            "-i",
            str(recording),
            "-vn",
            "-t",
            "10",
            str(clip),
        ],
        check=True,
    )
    assert mean_volume(clip) > -30
    assert tone_excess_db(clip, 1000) < 10 and tone_excess_db(clip, 1500) < 10  # renditions 1, 2


def test_publish_rejected_is_fatal(make_sim: MakeSim, cast: StartCast) -> None:
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace02,start=-30,duration=0")
    run: CastRun = cast(sim, "1AudioSpace02", key="wrong_key_SECRETISH", display=153)
    assert run.wait_exit(60) == 30
    output = run.log_text()
    assert "spacecast session: error: publish rejected" in output
    assert "wrong_key_SECRETISH" not in output
    assert run.summary()["reason"] == "failed"


@pytest.mark.parametrize(
    ("space", "overrides", "code"),
    [
        ("1ZZZZZZZZZZZZ", {}, 11),  # no such Space
        ("1AudioSpace03", {"valid_auth_tokens": ["f" * 40]}, 14),  # the burner's cookies refused
    ],
)
def test_fatal_x_errors(
    make_sim: MakeSim, cast: StartCast, space: str, overrides: dict[str, object], code: int
) -> None:
    sim = make_sim(
        space=["kind=audio,id=1AudioSpace03,start=-30,duration=0"],
        ingest=True,
        ingest_port=0,
        **({"valid_auth_tokens": [AUTH_TOKEN]} | overrides),
    )
    run: CastRun = cast(sim, space, display=154)
    assert run.wait_exit(60) == code
    assert run.summary()["exit_code"] == code
    assert secrets_in(run.log_text()) == []


def _encoder_pid(run: CastRun) -> int | None:
    return next((p for p in tree_pids(run.proc.pid) if "x11grab" in proc_text(p, "cmdline")), None)


def test_silence_is_not_unreadiness_but_a_stalled_encoder_is(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """A camera Space without the rescue: picture and silent audio on air, ready throughout,
    its silence in the metrics; the encoder frozen: unready, saying why; thawed: ready again."""
    sim = cast_sim(make_sim, "kind=camera,id=1CameraSpace2,start=-30,duration=0")
    run: CastRun = cast(sim, "1CameraSpace2", display=155, extra_args=("--no-rescue",))
    wait_for("readiness", run.ready, 60)
    wait_for(
        "silence past the readiness window in the metrics",
        lambda: run.metric("spacecast_silence_seconds") > 15,
        40,
    )
    assert run.metric("spacecast_audio_level_dbfs") < -60
    assert run.ready() and run.metric("spacecast_ready") == 1
    _more_bytes_on_air(run, "silent media still flowing", 50_000, 20)

    encoder = wait_for("the encoder's pid", lambda: _encoder_pid(run), 10)
    os.kill(encoder, signal.SIGSTOP)
    try:
        wait_for("unready once the encoder stalls", lambda: not run.ready(), 30)
        reasons = httpx.get(f"http://127.0.0.1:{run.metrics_port}/readyz").json()["reasons"]
        assert any("stalled" in r for r in reasons), reasons
    finally:
        with contextlib.suppress(ProcessLookupError):  # the stall check may have killed it
            os.kill(encoder, signal.SIGCONT)
    wait_for("ready again (resumed, or replaced by the stall check)", run.ready, 60)
    run.stop()
    assert run.summary()["exit_code"] == 0


def test_a_taken_display_is_exit_33_with_a_summary(
    make_sim: MakeSim, cast: StartCast, tmp_path: Path
) -> None:
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace04,start=-30,duration=0")
    display = free_display(156)
    other = subprocess.Popen(["Xvfb", f":{display}", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    try:
        wait_for("the other X server", lambda: Path(f"/tmp/.X11-unix/X{display}").exists(), 10)
        run: CastRun = cast(sim, "1AudioSpace04", display=display)
        assert run.wait_exit(60) == 33
        assert "in use" in run.summary()["message"]
        assert run.summary()["exit_class"] == "transient"
        assert run.summary()["destinations_by_state"] == {"idle": 1}  # as given, never used
        assert other.poll() is None  # the other server was left alone
    finally:
        other.terminate()
        other.wait(10)


def test_x_out_of_reach_for_30_s_leaves_the_cast_on_air_and_its_end_noticed(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """X's API resets every connection for 30 s (the page's own state calls included): the
    cast stays on air, the poller keeps trying, and the Space's end, which happens in the
    middle of the outage, is noticed once X answers again: exit 0, not a crash."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace05,start=-30,duration=0")
    run: CastRun = cast(sim, "1AudioSpace05", display=156)
    wait_for("the cast ready", lambda: run.metric("spacecast_ready") == 1, 60)
    lever = httpx.post(f"{sim.http_url}/_sim/outage",
                       params={"scope": "api", "mode": "reset", "seconds": 30})  # fmt: skip
    assert lever.status_code == 200, lever.text
    outage_over = time.monotonic() + 30
    wait_for(
        "the poller meeting the outage", lambda: run.metric("spacecast_x_errors_total") >= 2, 20
    )
    _more_bytes_on_air(run, "media on air through the outage", 100_000, 20)
    end_space(sim, "1AudioSpace05")
    assert run.wait_exit(75) == 0
    assert time.monotonic() >= outage_over  # it could not have known before X answered
    assert run.summary()["reason"] == "space_ended"
    assert "Traceback" not in run.log_text()


def test_the_rescues_hls_failing_mid_rescue_comes_back(make_sim: MakeSim, cast: StartCast) -> None:
    """A camera Space rescued through HLS, then its playlists and chunks answer 503 for 15 s:
    the rescued audio drops out, the cast stays on air, and the audio comes back after."""
    sim = cast_sim(make_sim, "kind=camera,id=1CameraSpace3,start=-30,duration=0")
    run: CastRun = cast(sim, "1CameraSpace3", display=157)
    level = "spacecast_audio_level_dbfs"
    wait_for("rescued audio", lambda: run.metric(level) > -30, 60)
    lever = httpx.post(f"{sim.http_url}/_sim/outage",
                       params={"scope": "media", "mode": "5xx", "seconds": 15})  # fmt: skip
    assert lever.status_code == 200, lever.text
    wait_for("the rescued audio gone with its source", lambda: run.metric(level) < -50, 30)
    _more_bytes_on_air(run, "picture and silence on air meanwhile", 50_000, 20)
    wait_for("the rescued audio back", lambda: run.metric(level) > -30, 60)
    assert run.proc.poll() is None  # never ended
    end_space(sim, "1CameraSpace3")
    assert run.wait_exit(60) == 0


def test_a_sigkilled_supervisor_leaves_no_process_and_no_profile(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """kill -9 of the supervisor mid-cast: Xvfb, PulseAudio, ffmpeg, the driver and Chromium
    go with it, and the browser profile (the burner's cookies) is removed by the reaper."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace06,start=-30,duration=0")
    run: CastRun = cast(sim, "1AudioSpace06", display=158)
    wait_for("readiness", run.ready, 60)
    profile = run.runtime_dir / "chromium-profile"
    assert profile.is_dir() and any(profile.iterdir())
    reaper = [p for p in tree_pids(run.proc.pid) if proc_text(p, "comm").strip() == "sh"]
    assert len(reaper) == 1, reaper
    tree = [p for p in tree_pids(run.proc.pid) if p not in reaper and p != run.proc.pid]
    assert len(tree) >= 5, tree  # Xvfb, pulseaudio, the driver, chromium's, ffmpeg's
    run.proc.kill()
    run.proc.wait(10)

    def left() -> list[str]:
        return [proc_text(p, "comm").strip() for p in tree if proc_text(p, "comm")]

    wait_for("every process gone", lambda: not left(), 20)
    wait_for("the profile gone", lambda: not profile.exists(), 20)
    wait_for("the reaper gone", lambda: not any(proc_text(p, "comm") for p in reaper), 20)


def _at_least(run: CastRun, metric: str, value: float) -> bool:
    return run.metric(metric) >= value


def _none_frozen(pids: list[int]) -> bool:
    """None of `pids` is still there stopped (state T): killed, and gone or a zombie."""
    return not any(proc_text(p, "stat").split(") ")[-1].startswith("T") for p in pids)


def _pids_of(run: CastRun, comm: str, *marks: str) -> list[int]:
    return [p for p in tree_pids(run.proc.pid) if proc_text(p, "comm").strip() == comm
            and all(m in proc_text(p, "cmdline") for m in marks)]  # fmt: skip


def test_a_frozen_encoder_meter_or_renderer_is_found_and_restarted(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """SIGSTOP keeps a process alive to the kernel and dead to the cast. Each one frozen in
    turn is found by its missing progress (output, samples, the page's heartbeat) within
    --stall-seconds, killed, restarted, and the cast goes on."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace07,start=-30,duration=0")
    run: CastRun = cast(sim, "1AudioSpace07", display=159, extra_args=("--stall-seconds", "5"))
    wait_for("readiness", run.ready, 60)
    frozen: list[int] = []
    try:
        for process, comm, marks in [("pusher", "ffmpeg", ("x11grab",)),
                                     ("meter", "parec", ()),
                                     ("browser", "chromium", ("--type=renderer",))]:  # fmt: skip
            pids = _pids_of(run, comm, *marks)
            if not pids and comm == "chromium":  # single-process: the page runs in the browser
                pids = _pids_of(run, comm, "--single-process")
            assert pids, f"no {comm} to freeze"
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            frozen += pids
            stalls = f"spacecast_process_stalls_total{{process={process}}}"
            wait_for(f"the {process} found stalled", partial(_at_least, run, stalls, 1), 30)
            wait_for(f"the frozen {comm} gone", partial(_none_frozen, pids), 30)
            wait_for("on air again", run.ready, 60)
            _more_bytes_on_air(run, f"bytes after the {process} restart", 100_000, 30)
        wait_for("audio back", lambda: run.metric("spacecast_audio_level_dbfs") > -30, 60)
    finally:
        for pid in frozen:  # whatever the outcome, nothing stays frozen behind the test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert "process stalled" in run.log_text()


def test_a_dead_destination_costs_the_live_one_nothing(make_sim: MakeSim, cast: StartCast) -> None:
    """Destination 1 refuses every connection (a closed port) for the whole cast, reconnecting
    with its backoff; destination 0's recording at the ingest has no gap the dead one caused."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace08,start=-30,duration=0")
    dead = f"rtmp://127.0.0.1:{free_port()}/app/deadkey"
    run: CastRun = cast(sim, "1AudioSpace08", display=160, more_destinations=(dead,),
                        extra_args=("--reconnect-window-seconds", "300"))  # fmt: skip
    wait_for("readiness", run.ready, 60)
    wait_for("destination 1 retrying", lambda: run.metric(
        "spacecast_rtmp_reconnects_total{destination=1}") >= 3, 60)  # fmt: skip
    assert sim.ingest is not None
    ingest = sim.ingest

    def recorded_s() -> float:  # media time, not bytes: the bitrate follows the speech
        newest = max(ingest.recordings(), key=lambda p: p.stat().st_mtime, default=None)
        return max(packet_times(newest, "v"), default=0.0) if newest else 0.0

    wait_for("10 s of media recorded from destination 0", lambda: recorded_s() >= 10, 60)
    end_space(sim, "1AudioSpace08")
    assert run.wait_exit(60) == 0
    summary = run.summary()
    assert summary["destinations"][0]["reconnects"] == 0, summary
    assert summary["destinations"][1]["reconnects"] >= 3, summary
    assert sim.ingest is not None
    recording = max(sim.ingest.recordings(), key=lambda p: p.stat().st_size)
    # A live destination that waited on the dead one would stall for its backoff: 1 s and more
    # from the third retry on. Audio is timestamped by the sample, so any gap in it is a loss;
    # x11grab drops frames when the machine is busy (289 ms seen on a loaded CI), not ours.
    for stream, allowed in (("a", 0.1), ("v", 0.5)):
        # From 3 s on: the encoder's own start (its first frames, then a wait for the audio
        # input) is not what this test is about.
        times = [t for t in packet_times(recording, stream) if t >= 3.0]
        assert len(times) > 100, stream
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) <= allowed, (stream, max(gaps))


def test_a_flapping_ingest_runs_out_the_window_exit_31(make_sim: MakeSim, cast: StartCast) -> None:
    """The ingest up 2 s, down 5 s, again and again: never healthy long enough to reset the
    window, so the cast ends with exit 31 and its summary, instead of flapping forever."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace09,start=-30,duration=0", ingest_proxy=True)
    run: CastRun = cast(sim, "1AudioSpace09", display=161,
                        extra_args=("--reconnect-window-seconds", "20"))  # fmt: skip
    wait_for("readiness", run.ready, 60)
    ingest_fault(sim, mode="flap", up=2, down=5, seconds=600)
    assert run.wait_exit(120) == 31
    summary = run.summary()
    assert (summary["exit_code"], summary["exit_class"]) == (31, "transient"), summary
    assert summary["destinations"][0]["reconnects"] >= 2, summary


def test_a_blackholed_ingest_is_a_wedge_then_a_reconnect(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """Bytes stop moving without an error (a blackhole): --wedge-seconds finds it, the
    destination reconnects when the path is back, and media flows again."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace10,start=-30,duration=0", ingest_proxy=True)
    run: CastRun = cast(sim, "1AudioSpace10", display=162, extra_args=("--wedge-seconds", "3"))
    wait_for("readiness", run.ready, 60)
    ingest_fault(sim, mode="blackhole", seconds=20)
    reconnects = "spacecast_rtmp_reconnects_total{destination=0}"
    wait_for("the wedge found and a reconnect", lambda: run.metric(reconnects) >= 1, 30)
    assert "wedged" in run.log_text()
    wait_for("on air again", run.ready, 60)
    _more_bytes_on_air(run, "media after the blackhole", 200_000, 30)


def test_a_handshake_cut_short_is_retried_not_rejected(make_sim: MakeSim, cast: StartCast) -> None:
    """Every new connection is cut after 100 bytes for 15 s: the destination retries (it used
    to call that a rejected key, exit 30), and publishes once the path is whole."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace11,start=-30,duration=0", ingest_proxy=True)
    ingest_fault(sim, mode="cut-handshake", bytes=100, seconds=15)
    run: CastRun = cast(sim, "1AudioSpace11", display=163)
    wait_for("on air once the path is whole", run.ready, 90)
    assert run.metric("spacecast_rtmp_reconnects_total{destination=0}") >= 1
    assert run.proc.poll() is None


def test_rtmps_end_to_end(make_sim: MakeSim, cast: StartCast) -> None:
    """Over TLS to the ingest's RTMPS front (a TLS terminator before nginx-rtmp), its
    certificate checked against the simulator's CA: on air, recorded, ended with exit 0."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace12,start=-30,duration=0", ingest_tls=True)
    run: CastRun = cast(sim, "1AudioSpace12", display=164, rtmps=True)
    wait_for("readiness over RTMPS", run.ready, 60)
    assert sim.ingest is not None
    ingest = sim.ingest

    def packets() -> tuple[int, int]:
        recording = max(ingest.recordings(), key=lambda p: p.stat().st_size)
        return len(packet_times(recording, "a")), len(packet_times(recording, "v"))

    # Media time, not bytes: the bitrate follows the speech (a speaking page is 1.5-2 Mbit/s).
    wait_for("5 s of media over TLS", lambda: min(packets()) > 150, 30, every=1.0)
    end_space(sim, "1AudioSpace12")
    assert run.wait_exit(60) == 0
    assert min(packets()) > 150


def test_rtmps_to_a_certificate_it_cannot_trust_is_not_a_rejection(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """Without the CA the TLS handshake fails: a connection failure, retried (the key may be
    fine), not "publish rejected"."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace13,start=-30,duration=0", ingest_tls=True)
    assert sim.ingest is not None
    untrusted = sim.ingest.tls_url("SOMEKEY")
    run: CastRun = cast(sim, "1AudioSpace13", display=165, more_destinations=(untrusted,))
    wait_for("destination 1 retrying", lambda: run.metric(
        "spacecast_rtmp_reconnects_total{destination=1}") >= 2, 60)  # fmt: skip
    assert "CERTIFICATE_VERIFY_FAILED" in run.log_text() and "SOMEKEY" not in run.log_text()
    assert run.proc.poll() is None


def test_garbage_from_a_server_is_a_connection_failure_logged(
    make_sim: MakeSim, cast: StartCast
) -> None:
    """Destination 1's server answers `connect` with nonsense AMF: retried and logged (no
    dead task, no rejection), and destination 0 publishes throughout."""
    sim = cast_sim(make_sim, "kind=audio,id=1AudioSpace14,start=-30,duration=0")
    garbage = InThread(FaultyIngest("garbage"))
    try:
        url = f"rtmp://127.0.0.1:{garbage.port}/app/GARBAGEKEY"
        run: CastRun = cast(sim, "1AudioSpace14", display=166, more_destinations=(url,))
        wait_for("readiness", run.ready, 60)
        wait_for("destination 1 retrying", lambda: run.metric(
            "spacecast_rtmp_reconnects_total{destination=1}") >= 2, 60)  # fmt: skip
        assert run.metric("spacecast_rtmp_destination_up{destination=0}") == 1
        assert garbage.ingest.connections >= 2
    finally:
        garbage.stop()
    log = run.log_text()
    assert "sent a malformed message" in log and "GARBAGEKEY" not in log
    assert run.proc.poll() is None
