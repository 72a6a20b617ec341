"""`spacecast demo`: the whole cast on one machine. It starts the simulator (X's API, CDN and
Space page) with X's RTMP ingest (nginx-rtmp), runs one real `spacecast session` against it,
prints the session's live metrics, ends the Space, and leaves the ingest's recording on disk."""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from simulator.server import Simulator, ThreadedSimulator
from simulator.settings import SimulatorSettings
from spacecast.errors import ExitCode, UserError
from spacecast.logs import configure_logging
from spacecast.session.local import LocalCast

SPACE_ID = "1DemoSpace000"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="simulate a Space, cast it to a local ingest, show health", description=__doc__
    )
    parser.add_argument(
        "--kind",
        choices=["audio", "camera"],
        default="audio",
        help="an audio Space, or a camera Space whose audio must be rescued",
    )
    parser.add_argument("--seconds", type=float, default=40, help="how long to cast [default: 40]")
    parser.add_argument("--output", default="demo-output", help="where recordings and logs go")
    parser.set_defaults(handler=run)


def status_line(elapsed: float, m: dict[str, float]) -> str:
    if not m:
        return f"  {elapsed:5.0f}s  starting..."
    source = next(
        (
            k.split("=")[1].rstrip("}")
            for k, v in m.items()
            if k.startswith("spacecast_audio_source{") and v
        ),
        "?",
    )
    up = sum(v for k, v in m.items() if k.startswith("spacecast_rtmp_destination_up{"))
    mbps = m.get("spacecast_push_bitrate_bits_per_second", 0) / 1e6
    level = m.get("spacecast_audio_level_dbfs", -120)
    ready = "yes" if m.get("spacecast_ready") else "no "
    rescues = m.get("spacecast_rescue_activations_total", 0)
    return (
        f"  {elapsed:5.0f}s  bitrate {mbps:5.2f} Mbit/s  level {level:6.1f} dBFS"
        f"  audio from {source:7}  destinations up {up:.0f}  ready {ready}  rescues {rescues:.0f}"
    )


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo as Ctrl-C does: everything it started


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    configure_logging()
    out = Path(args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    key = "demo_" + secrets.token_hex(8)
    settings = SimulatorSettings(
        http_port=0,
        https_port=0,
        state_dir=str(out / "simulator"),
        ingest=True,
        ingest_port=0,
        ingest_keys=[key],
        ingest_dir=str(out / "ingest"),
        space=[f"kind={args.kind},id={SPACE_ID},start=-20,duration=0,title=spacecast demo"],
    )
    with ThreadedSimulator(settings) as sim:
        code = _cast(sim, args, out, key)
        assert sim.ingest is not None
        recordings = sim.ingest.recordings()
    _report(recordings)
    return code


def _cast(sim: Simulator, args: argparse.Namespace, out: Path, key: str) -> int:
    assert sim.ingest is not None
    run = LocalCast.start(sim, SPACE_ID, out, key=key)
    print(f"simulated {args.kind} Space: {sim.https_url}/i/spaces/{SPACE_ID}")
    print(f"casting to X's ingest stand-in at {sim.ingest.url('****')}")
    print(f"live metrics: http://127.0.0.1:{run.metrics_port}/metrics")
    started = time.monotonic()
    try:
        while run.proc.poll() is None and time.monotonic() - started < args.seconds:
            time.sleep(2)
            print(status_line(time.monotonic() - started, run.metrics()), flush=True)
        print("ending the Space...", flush=True)
        entry = sim.world.by_id(SPACE_ID)
        assert entry is not None
        entry.space.end(sim.world.now())
        code = run.wait_exit(60)
    except KeyboardInterrupt:
        code = run.stop()
    if run.termination_log.exists():
        print("session summary:", run.termination_log.read_text().strip())
    print(f"session log: {run.log_path}")
    if code != 0:
        raise UserError(f"the session exited with {code}; see {run.log_path}", ExitCode.FAILURE)
    return int(ExitCode.OK)


def _report(recordings: list[Path]) -> None:
    for path in recordings:
        entries = "stream=codec_name,width,height:format=duration"
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
            capture_output=True, text=True,
        )  # fmt: skip
        info = json.loads(probe.stdout or "{}")
        streams = ", ".join(
            s["codec_name"] + (f" {s['width']}x{s['height']}" if "width" in s else "")
            for s in info.get("streams", [])
        )
        duration = float(info.get("format", {}).get("duration", 0))
        print(f"recording: {path} ({streams}, {duration:.1f} s)")
