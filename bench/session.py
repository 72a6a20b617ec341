"""Benchmark of live casts (`spacecast session`), every figure measured in this run:

- CPU (cores) and peak memory (PSS, so Chromium's shared pages count once) of one session's
  whole process tree at 720p30, by process too, beside a bare encoder peer (ffmpeg x11grab +
  PulseAudio -> x264 -> RTMP with the same settings and no browser: Jibri's pipeline) encoding
  the same picture and sound (the session's own push, replayed on its display), and the same
  peer on a still display;
- time from start to the first RTMP byte;
- rescue latency on a camera Space (page listening -> rescue playing -> audio in the sink);
- A/V offset, from the simulator's beep-and-flash Space as the ingest recorded it, with the
  session's calibration and with the fixed delay it falls back to (`--no-calibrate`);
- two concurrent sessions on this machine: dropped frames, fps, encoder speed.

Run: `make bench-session` (or `uv run python -m bench.session --seconds 60`).
Targets (issues 5 and 16): CPU <= 1.5x the bare encoder and PSS <= 600 MiB per session; first
byte <= 5 s; |A/V| <= 40 ms with the calibration (its offset is printed with and without it);
two sessions on 2 cores without dropped frames. Memory and CPU are also shown by process.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import wait
from simulator.server import Simulator, ThreadedSimulator
from simulator.settings import SimulatorSettings
from spacecast.session import commands
from spacecast.session.local import LocalCast, free_display
from tests import avsync
from tests.procfs import stat_fields, tree_pids

TICK = os.sysconf("SC_CLK_TCK")
KEY = "bench_key"


def role(pid: int) -> str:
    """What a process of a session's tree is, for the table of memory and CPU by process."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return "gone"
    words = argv.replace("\0", " ").split()
    name = Path(words[0]).name if words else "?"
    kind = next((w.split("=", 1)[1] for w in words if w.startswith("--type=")), "")
    if name == "chromium":
        return f"chromium ({kind or 'browser'})"
    return {
        "node": "node (Playwright's driver)",
        "python": "python (supervisor)",
        "ffmpeg": "ffmpeg (encoder)",
        "parec": "parec (meter)",
        "sh": "sh (reaper)",
    }.get(name, name)


def usage(root: int) -> dict[str, tuple[float, float]]:
    """CPU seconds so far and PSS bytes of each kind of process in the tree under `root`."""
    found: dict[str, tuple[float, float]] = {}
    for pid in tree_pids(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # gone
        if (fields := stat_fields(pid)) is None:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        pss = int(match[1]) * 1024 if match else 0
        before = found.get(name := role(pid), (0.0, 0.0))
        found[name] = (before[0] + cpu, before[1] + pss)
    return found


def steady_usage(root: int, seconds: float) -> dict[str, tuple[float, float]]:
    """Cores used and PSS (MiB) by kind of process over `seconds`, sampled once a second, at the
    sample where the whole tree's PSS peaked. The total is under "total"."""
    first, peak, peak_total = usage(root), {}, 0.0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(1)
        sample = usage(root)
        if (total := sum(pss for _, pss in sample.values())) > peak_total:
            peak, peak_total = sample, total
    last, elapsed = usage(root), time.monotonic() - start
    out = {
        name: ((cpu - first.get(name, (cpu, 0))[0]) / elapsed, peak.get(name, (0, 0))[1] / 2**20)
        for name, (cpu, _) in last.items()
    }
    out["total"] = (sum(c for c, _ in out.values()), peak_total / 2**20)
    return out


def one_session(sim: Simulator, work: Path, seconds: float) -> dict[str, Any]:
    assert sim.ingest is not None
    before = set(sim.ingest.recordings())
    run = LocalCast.start(sim, "1BenchAudio01", work / "single", key=KEY)
    first = wait(
        "the first RTMP byte",
        lambda: run.metric("spacecast_rtmp_sent_bytes_total{destination=0}") > 0,
        30,
    )
    wait("readiness", run.ready, 60)
    time.sleep(5)  # past the start-up burst: measure the steady state
    by_process = steady_usage(run.proc.pid, seconds)
    m = run.metrics()
    run.stop()
    return {
        "first_byte_s": first,
        "cores": by_process["total"][0],
        "pss_mib": by_process["total"][1],
        "by_process": by_process,
        "dropped": m.get("spacecast_dropped_frames_total", 0),
        "fps": m.get("spacecast_push_fps", 0),
        "recording": next(p for p in sim.ingest.recordings() if p not in before),
    }


def bare_encoder(
    sim: Simulator, work: Path, seconds: float, replay: Path | None = None
) -> dict[str, float]:
    """The peer: the same encoder settings, display and sink, no browser and no supervisor.
    With `replay`, the display shows and the sink plays that recording of the session's push
    (ffplay, looping: it stands for the Space, and its own CPU is not counted), so the peer's
    encoder does the session's encoder's work; without, it grabs a still, black display."""
    assert sim.ingest is not None
    name = "peer-replay" if replay else "peer-still"
    display, socket_path = free_display(), work / name / "native"
    socket_path.parent.mkdir(parents=True)
    script = socket_path.parent / "default.pa"
    script.write_text(commands.pulseaudio_script("peer", str(socket_path)))
    env = os.environ | {
        "HOME": str(socket_path.parent),
        "PULSE_RUNTIME_PATH": str(socket_path.parent),
    }
    xvfb = subprocess.Popen(commands.xvfb(f":{display}", 1280, 720).argv)
    pulse = subprocess.Popen(
        commands.pulseaudio(str(script)).argv, env=env, stderr=subprocess.DEVNULL
    )
    wait(
        "the sound server and the display",
        lambda: socket_path.exists() and Path(f"/tmp/.X11-unix/X{display}").exists(),
        10,
    )
    encoder = commands.EncoderSettings()
    cmd = commands.pusher(encoder, f":{display}", "peer", str(socket_path), 2, time.time())
    argv = [*cmd.argv[:-1], sim.ingest.url(KEY + "peer")]  # FLV straight to the ingest
    ffmpeg = subprocess.Popen(argv, env=os.environ | cmd.env, stderr=subprocess.DEVNULL)
    # The sink starts asleep (commands.pulseaudio_script); the session's AudioServer wakes it
    # for its first reader, and so does the peer for its encoder.
    wait("the encoder's stream on the sink", lambda: subprocess.run(
        ["pactl", "list", "short", "source-outputs"], env=os.environ | cmd.env,
        capture_output=True, text=True).stdout.strip(), 10)  # fmt: skip
    subprocess.run(["pactl", "suspend-sink", "peer", "0"], env=os.environ | cmd.env, check=True)
    player = None
    if replay is not None:
        player = subprocess.Popen(
            ["ffplay", "-hide_banner", "-loglevel", "error", "-nostats", "-loop", "0",
             "-noborder", "-left", "0", "-top", "0", "-x", "1280", "-y", "720", str(replay)],
            env=os.environ | cmd.env | {"DISPLAY": f":{display}", "SDL_AUDIODRIVER": "pulse"},
            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        time.sleep(5)
        cores, pss = steady_usage(ffmpeg.pid, seconds)["total"]
        for proc in (xvfb, pulse):
            c, p = steady_usage(proc.pid, 1)["total"]
            cores, pss = cores + c, pss + p
    finally:
        for proc in [p for p in (player, ffmpeg, pulse, xvfb) if p is not None]:
            proc.terminate()
            proc.wait(10)
    return {"cores": cores, "pss_mib": pss}


def rescue_latency(sim: Simulator, work: Path) -> dict[str, float]:
    run = LocalCast.start(sim, "1BenchCamera1", work / "camera", key=KEY + "camera")
    wait("the rescue", lambda: run.metric("spacecast_rescue_activations_total") >= 1, 60)
    wait("rescued audio", lambda: run.metric("spacecast_audio_level_dbfs") > -30, 30)
    audible = time.time()
    run.stop()
    events = {(e["event"], e.get("state")): e["timestamp"] for e in run.logs()}
    listening = _epoch(events[("browser state", "listening")])
    active = _epoch(events[("rescue state", "active")])
    return {"engage_s": active - listening, "audible_s": audible - listening}


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def av_offset(sim: Simulator, work: Path, seconds: float, calibrate: bool) -> dict[str, float]:
    """The offset the ingest recorded on the beep-and-flash Space: with the session's own
    calibration, or with the fixed delay it falls back to."""
    assert sim.ingest is not None
    before = set(sim.ingest.recordings())
    name = "calibrated" if calibrate else "fixed"
    extra = () if calibrate else ("--no-calibrate",)
    run = LocalCast.start(sim, "1BenchAVSync1", work / f"avsync-{name}", key=f"{KEY}{name}",
                          extra_args=extra)  # fmt: skip
    wait("readiness", run.ready, 60)
    time.sleep(seconds)
    applied = run.metric("spacecast_av_offset_seconds")
    run.stop()
    recording = next(p for p in sim.ingest.recordings() if p not in before)
    return avsync.summary(recording) | {"applied_ms": 1000 * applied}


def two_sessions(sim: Simulator, work: Path, seconds: float) -> list[dict[str, float]]:
    first = free_display()
    runs = [
        LocalCast.start(sim, "1BenchAudio01", work / f"pair{i}", key=f"{KEY}{i}", display=first + i)
        for i in range(2)
    ]
    try:
        for run in runs:
            wait("readiness", run.ready, 90)
        start = [run.metrics() for run in runs]
        time.sleep(seconds)
        end = [run.metrics() for run in runs]
    finally:
        for run in runs:
            run.stop()
    name = "spacecast_dropped_frames_total"
    return [
        {
            "dropped": e.get(name, 0) - s.get(name, 0),
            "fps": e.get("spacecast_push_fps", 0),
            "speed": e.get("spacecast_encoder_speed_ratio", 0),
        }
        for s, e in zip(start, end, strict=True)
    ]


def main() -> None:
    # A session's image ships its bytecode compiled (scripts/image-venv.sh); with this switch on,
    # as some environments set it, every session would recompile its imports (0.8 s each start).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40, help="steady-state measuring time")
    args = parser.parse_args()
    spaces = [
        "kind=audio,id=1BenchAudio01,start=-30,duration=0",
        "kind=camera,id=1BenchCamera1,start=-30,duration=0",
        "kind=avsync,id=1BenchAVSync1,start=-30,duration=0",
    ]
    with tempfile.TemporaryDirectory(prefix="spacecast-bench-") as tmp:
        work = Path(tmp)
        settings = SimulatorSettings(
            http_port=0,
            https_port=0,
            ingest=True,
            ingest_port=0,
            ingest_dir=str(work / "ingest"),
            space=spaces,
        )
        with ThreadedSimulator(settings) as sim:
            single = one_session(sim, work, args.seconds)
            peer = bare_encoder(sim, work, args.seconds, replay=single["recording"])
            still = bare_encoder(sim, work, args.seconds)
            rescue = rescue_latency(sim, work)
            sync = {
                "calibrated": av_offset(sim, work, min(args.seconds, 30), calibrate=True),
                "fixed": av_offset(sim, work, min(args.seconds, 30), calibrate=False),
            }
            pair = two_sessions(sim, work, args.seconds)
    report(single, peer, still, rescue, sync, pair, args.seconds)


def report(
    single: dict[str, Any],
    peer: dict[str, float],
    still: dict[str, float],
    rescue: dict[str, float],
    sync: dict[str, dict[str, float]],
    pair: list[dict[str, float]],
    seconds: float,
) -> None:
    print(f"spacecast session benchmark ({os.cpu_count()} cores, 720p30, {seconds:.0f} s windows)")
    print(f"{'':34}{'session':>10}{'bare encoder':>14}{'ratio':>8}{'target':>10}")
    print(
        f"{'CPU (cores)':34}{single['cores']:>10.2f}{peer['cores']:>14.2f}"
        f"{single['cores'] / peer['cores']:>8.1f}{'<= 1.5x':>10}"
    )
    print(
        f"{'  against a still display':34}{single['cores']:>10.2f}{still['cores']:>14.2f}"
        f"{single['cores'] / still['cores']:>8.1f}"
    )
    own = single["by_process"].get("ffmpeg (encoder)", (0.0, 0.0))[0]
    print(
        f"{'  against its own encoder process':34}{single['cores']:>10.2f}{own:>14.2f}"
        f"{single['cores'] / own if own else float('nan'):>8.1f}"
    )
    print(
        f"{'peak memory, PSS (MiB)':34}{single['pss_mib']:>10.0f}{peer['pss_mib']:>14.0f}"
        f"{single['pss_mib'] / peer['pss_mib']:>8.1f}{'<= 600':>10}"
    )
    print(f"{'start to first RTMP byte (s)':34}{single['first_byte_s']:>10.1f}{'':>22}{'<= 5':>10}")
    print(
        f"{'rescue engaged after listening (s)':34}{rescue['engage_s']:>10.1f}{'':>22}{'<= 15':>10}"
    )
    print(f"{'rescued audio audible after (s)':34}{rescue['audible_s']:>10.1f}")
    for name, target in (("calibrated", "|x|<=40"), ("fixed", "")):
        s = sync[name]
        label = f"A/V offset, {name} ({s['applied_ms']:+.0f} ms applied)"
        worst = f"worst of {s['pairs']}"
        print(f"{label:34}{'median':>10}{s['median_ms']:>+8.0f} ms{'':>2}"
              f"{worst:>12}{s['max_abs_ms']:>6.0f} ms{target:>10}")  # fmt: skip
    for i, p in enumerate(pair):
        print(
            f"{'two sessions: #' + str(i + 1) + ' dropped frames':34}{p['dropped']:>10.0f}"
            f"   (fps {p['fps']:.1f}, speed {p['speed']:.2f}x){'':>3}{'0':>10}"
        )
    print("\nby process (steady state; PSS at the tree's peak sample)")
    print(f"{'':34}{'cores':>10}{'PSS MiB':>14}")
    rows = sorted(single["by_process"].items(), key=lambda kv: (kv[0] == "total", -kv[1][1]))
    for name, (cores, pss) in rows:
        print(f"{name:34}{cores:>10.3f}{pss:>14.1f}")


if __name__ == "__main__":
    main()
