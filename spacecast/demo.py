"""`spacecast demo`: the whole cast on one machine. It starts the simulator (X's API, CDN and
Space page) with X's RTMP ingest (nginx-rtmp), runs one real `spacecast session` against it,
prints the session's live metrics, ends the Space, and leaves the ingest's recording on disk."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from simulator.server import ThreadedSimulator
from simulator.settings import SimulatorSettings
from spacecast.errors import ExitCode, UserError
from spacecast.logs import configure_logging

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


def _free_display() -> int:
    sockets = Path("/tmp/.X11-unix")
    used = {p.name for p in sockets.glob("X*")} if sockets.exists() else set()
    return next(
        n for n in range(99, 200) if f"X{n}" not in used and not Path(f"/tmp/.X{n}-lock").exists()
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _metrics(port: int) -> dict[str, float]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    return {
        f"{s.name}{'|' + ','.join(s.labels.values()) if s.labels else ''}": s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def _status_line(elapsed: float, m: dict[str, float]) -> str:
    if not m:
        return f"  {elapsed:5.0f}s  starting..."
    source = next(
        (k.split("|")[1] for k, v in m.items() if k.startswith("spacecast_audio_source|") and v),
        "?",
    )
    up = sum(v for k, v in m.items() if k.startswith("spacecast_rtmp_destination_up|"))
    mbps = m.get("spacecast_push_bitrate_bits_per_second", 0) / 1e6
    level = m.get("spacecast_audio_level_dbfs", -120)
    ready = "yes" if m.get("spacecast_ready") else "no "
    rescues = m.get("spacecast_rescue_activations_total", 0)
    return (
        f"  {elapsed:5.0f}s  bitrate {mbps:5.2f} Mbit/s  level {level:6.1f} dBFS"
        f"  audio from {source:7}  destinations up {up:.0f}  ready {ready}  rescues {rescues:.0f}"
    )


def run(args: argparse.Namespace) -> int:
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
        assert sim.ingest is not None
        destinations = out / "destinations.txt"
        destinations.write_text(sim.ingest.url(key) + "\n")
        destinations.chmod(0o600)
        code = _cast(sim, args, out, destinations)
        recordings = sim.ingest.recordings()
    _report(recordings)
    return code


def _session_argv(out: Path, destinations: Path, display: int, port: int) -> list[str]:
    return [
        sys.executable, "-m", "spacecast.cli", "session", "--space", SPACE_ID,
        "--destinations-file", str(destinations), "--display", f":{display}",
        "--sink", f"spacecast{display}", "--metrics-port", str(port),
        "--metrics-bind", "127.0.0.1", "--state-poll-seconds", "2",
        "--termination-log", str(out / "summary.json"), "--runtime-dir", str(out / "runtime"),
    ]  # fmt: skip


def _cast(sim: Any, args: argparse.Namespace, out: Path, destinations: Path) -> int:
    port, display = _free_port(), _free_display()
    print(f"simulated {args.kind} Space: {sim.https_url}/i/spaces/{SPACE_ID}")
    print(f"casting to X's ingest stand-in at {sim.ingest.url('****')}")
    print(f"live metrics: http://127.0.0.1:{port}/metrics")
    env = os.environ | {
        "SPACECAST_X_BASE_URL": sim.https_url, "SPACECAST_X_API_BASE_URL": sim.https_url,
        "SPACECAST_X_CA_FILE": sim.ca_file, "SPACECAST_LOG_FORMAT": "json",
    }  # fmt: skip
    argv = _session_argv(out, destinations, display, port)
    with (out / "session.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - started < args.seconds:
            time.sleep(2)
            print(_status_line(time.monotonic() - started, _metrics(port)), flush=True)
        print("ending the Space...", flush=True)
        entry = sim.world.by_id(SPACE_ID)
        entry.space.end(sim.world.now())
        code = proc.wait(60)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    summary = out / "summary.json"
    if summary.exists():
        print("session summary:", summary.read_text().strip())
    print(f"session log: {out / 'session.log'}")
    if code != 0:
        raise UserError(
            f"the session exited with {code}; see {out / 'session.log'}", ExitCode.FAILURE
        )
    return int(ExitCode.OK)


def _report(recordings: list[Path]) -> None:
    for path in recordings:
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height:format=duration",
                "-of",
                "json",
                str(path),
            ],
            capture_output=True,
            text=True,
        )
        info = json.loads(probe.stdout or "{}")
        streams = ", ".join(
            s["codec_name"] + (f" {s['width']}x{s['height']}" if "width" in s else "")
            for s in info.get("streams", [])
        )
        duration = float(info.get("format", {}).get("duration", 0))
        print(f"recording: {path} ({streams}, {duration:.1f} s)")
