"""Benchmark of live casts (`spacecast session`), every figure measured in this run:

- CPU (cores) and peak memory (PSS, so Chromium's shared pages count once) of one session's
  whole process tree at 720p30, beside a bare encoder peer (ffmpeg x11grab + PulseAudio ->
  x264 -> RTMP with the same settings and no browser: Jibri's pipeline);
- time from start to the first RTMP byte;
- rescue latency on a camera Space (page listening -> rescue playing -> audio in the sink);
- A/V offset, from the simulator's beep-and-flash Space as the ingest recorded it;
- two concurrent sessions on this machine: dropped frames, fps, encoder speed.

Run: `make bench-session` (or `uv run python -m bench.session --seconds 60`).
Targets (issue 5): <= 0.6 core and <= 700 MiB per session; first byte <= 8 s; |A/V| <= 100 ms;
two sessions on 2 cores without dropped frames.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.measure import wait
from simulator.server import Simulator, ThreadedSimulator
from simulator.settings import SimulatorSettings
from spacecast.session import commands
from spacecast.session.local import LocalCast, free_display
from tests.procfs import stat_fields, tree_pids

TICK = os.sysconf("SC_CLK_TCK")
KEY = "bench_key"


def usage(root: int) -> tuple[float, float]:
    """CPU seconds so far and PSS bytes of the process tree under `root`."""
    cpu = pss = 0.0
    for pid in tree_pids(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # gone
        if (fields := stat_fields(pid)) is None:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / TICK
        match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        pss += int(match[1]) * 1024 if match else 0
    return cpu, pss


def steady_usage(root: int, seconds: float) -> tuple[float, float]:
    """Cores used and peak PSS (MiB) over `seconds`, sampled once a second."""
    cpu0, peak = usage(root)[0], 0.0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(1)
        peak = max(peak, usage(root)[1])
    return (usage(root)[0] - cpu0) / (time.monotonic() - start), peak / 2**20


def one_session(sim: Simulator, work: Path, seconds: float) -> dict[str, float]:
    run = LocalCast.start(sim, "1BenchAudio01", work / "single", key=KEY)
    first = wait(
        "the first RTMP byte",
        lambda: run.metric("spacecast_rtmp_sent_bytes_total{destination=0}") > 0,
        30,
    )
    wait("readiness", run.ready, 60)
    time.sleep(5)  # past the start-up burst: measure the steady state
    cores, pss = steady_usage(run.proc.pid, seconds)
    m = run.metrics()
    run.stop()
    return {
        "first_byte_s": first,
        "cores": cores,
        "pss_mib": pss,
        "dropped": m.get("spacecast_dropped_frames_total", 0),
        "fps": m.get("spacecast_push_fps", 0),
    }


def bare_encoder(sim: Simulator, work: Path, seconds: float) -> dict[str, float]:
    """The peer: the same encoder settings, display and sink, no browser and no supervisor."""
    assert sim.ingest is not None
    display, socket_path = free_display(), work / "peer-pulse" / "native"
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
    try:
        time.sleep(5)
        cores, pss = steady_usage(ffmpeg.pid, seconds)
        for proc in (xvfb, pulse):
            c, p = steady_usage(proc.pid, 1)
            cores, pss = cores + c, pss + p
    finally:
        for proc in (ffmpeg, pulse, xvfb):
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


def av_offset(sim: Simulator, work: Path, seconds: float) -> dict[str, float]:
    assert sim.ingest is not None
    before = set(sim.ingest.recordings())
    run = LocalCast.start(sim, "1BenchAVSync1", work / "avsync", key=KEY + "avsync")
    wait("readiness", run.ready, 60)
    time.sleep(seconds)
    run.stop()
    recording = next(p for p in sim.ingest.recordings() if p not in before)
    flashes, beeps = flash_times(recording), beep_times(recording)
    offsets = [min((b - f for b in beeps), key=abs) for f in flashes if beeps]
    offsets = [o for o in offsets if abs(o) < 0.5]
    return {
        "pairs": len(offsets),
        "median_ms": 1000 * statistics.median(offsets),
        "max_abs_ms": 1000 * max(map(abs, offsets)),
    }


def flash_times(path: Path) -> list[float]:
    out = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-i",
            str(path),
            "-an",
            "-vf",
            "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    ).stdout
    times = [float(t) for t in re.findall(r"pts_time:([\d.]+)", out)]
    lumas = [float(v) for v in re.findall(r"YAVG=([\d.]+)", out)]
    return [
        t
        for i, (t, y) in enumerate(zip(times, lumas, strict=False))
        if y > 128 and i and lumas[i - 1] <= 128
    ]


def beep_times(path: Path) -> list[float]:
    err = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-i",
            str(path),
            "-vn",
            "-af",
            "silencedetect=noise=-35dB:d=0.3",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    ).stderr
    return [float(t) for t in re.findall(r"silence_end: ([\d.]+)", err)]


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
            peer = bare_encoder(sim, work, args.seconds)
            rescue = rescue_latency(sim, work)
            sync = av_offset(sim, work, min(args.seconds, 30))
            pair = two_sessions(sim, work, args.seconds)
    report(single, peer, rescue, sync, pair, args.seconds)


def report(
    single: dict[str, float],
    peer: dict[str, float],
    rescue: dict[str, float],
    sync: dict[str, float],
    pair: list[dict[str, float]],
    seconds: float,
) -> None:
    print(f"spacecast session benchmark ({os.cpu_count()} cores, 720p30, {seconds:.0f} s windows)")
    print(f"{'':34}{'session':>10}{'bare encoder':>14}{'ratio':>8}{'target':>10}")
    print(
        f"{'CPU (cores)':34}{single['cores']:>10.2f}{peer['cores']:>14.2f}"
        f"{single['cores'] / peer['cores']:>8.1f}{'<= 0.6':>10}"
    )
    print(
        f"{'peak memory, PSS (MiB)':34}{single['pss_mib']:>10.0f}{peer['pss_mib']:>14.0f}"
        f"{single['pss_mib'] / peer['pss_mib']:>8.1f}{'<= 700':>10}"
    )
    print(f"{'start to first RTMP byte (s)':34}{single['first_byte_s']:>10.1f}{'':>22}{'<= 8':>10}")
    print(
        f"{'rescue engaged after listening (s)':34}{rescue['engage_s']:>10.1f}{'':>22}{'<= 15':>10}"
    )
    print(f"{'rescued audio audible after (s)':34}{rescue['audible_s']:>10.1f}")
    print(f"{'A/V offset, median (ms)':34}{sync['median_ms']:>10.0f}{'':>22}{'|x|<=100':>10}")
    print(f"{'A/V offset, worst of ' + str(sync['pairs']) + ' (ms)':34}{sync['max_abs_ms']:>10.0f}")
    for i, p in enumerate(pair):
        print(
            f"{'two sessions: #' + str(i + 1) + ' dropped frames':34}{p['dropped']:>10.0f}"
            f"   (fps {p['fps']:.1f}, speed {p['speed']:.2f}x){'':>3}{'0':>10}"
        )


if __name__ == "__main__":
    main()
