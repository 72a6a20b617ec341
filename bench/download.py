"""Benchmark of `spacecast download` against twspace-dl and yt-dlp (issue 4).

One simulated one-hour Space (about 1200 chunks) behind `spacecast simulate`, per-request
latency 20 ms and 100 ms; every tool downloads it in turn, in one run:
- spacecast: `spacecast download <id>` (its default `--concurrency`);
- twspace-dl: `twspace_dl -f <master URL>` (ffmpeg reads the chunk list, one request at a time);
- yt-dlp: `yt-dlp -N 16 <chunk list URL>` (its native concurrent fragment downloader);
- bare fetch: `bench.bare_fetch`, every chunk fetched at spacecast's concurrency and thrown
  away, with nothing else done: the floor that the simulator and the latency set.
Reported: wall time, CPU time and peak RSS of each tool's whole process tree, each peer's wall
time as a multiple of spacecast's, the ideal time (chunks x latency / concurrency), and how far
each file's duration is from the playlist's. Then the same hour with 3 listed chunks that X
answers 404 for (spacecast, `--gaps silence`: the target is 1.5x the hour with none); the same
hour through an HTTP/2 edge (`--http2`: nginx in front, as X's CDN), with HTTP/2 and with
HTTP/1.1 (`--no-x-http2`); a ten-minute camera Space at its best rendition (720p, picture and
sound in an mp4) against yt-dlp (twspace-dl records audio Spaces only) and the bare fetch of its
segments; and spacecast's peak RSS on a 10,000-chunk Space.

    uv run python -m bench.download            (or: make bench-download)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import m3u8
from rich.console import Console
from rich.table import Table

from bench.measure import LineCounter, Usage, run
from spacecast.download.settings import DownloadSettings
from spacecast.session.local import free_port
from spacecast.x import playlists
from tests.peers import ffprobe_duration, peer_env

HERE = Path(__file__).parent
HOUR_ID, LONG_ID, CAMERA_ID = "1BenchHour123", "1BenchLong123", "1BenchCamera1"
CAMERA_SPACE = f"kind=camera,id={CAMERA_ID},start=-1200,duration=600,title=Bench camera"
CONCURRENCY = DownloadSettings.model_fields["concurrency"].default  # spacecast's own default
YTDLP_FRAGMENTS = 16  # yt-dlp's -N, as the issue gives it
# Seconds-long runs, repeated: a shared 2-core VM's speed drifts by a quarter from minute to
# minute. twspace-dl and yt-dlp wait on the network for most of their run and vary less.
QUICK = ("bare fetch", "spacecast")
RSS_MARKS = (2000, 10000)
LOST = ("100", "600", "1150")  # listed, but answered 404: early, middle, near the end


@dataclass
class Row:
    tool: str
    space: str
    latency_ms: int
    chunks: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    duration_error_s: float | None
    ok: bool
    note: str = ""


class Sim:
    """`spacecast simulate` in a process of its own, so its CPU is not counted for any tool."""

    def __init__(self, latency_ms: int, state: Path, *faults: str) -> None:
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.ca = str(state / "ca.pem")
        cmd = [
            sys.executable, "-m", "spacecast.cli", "simulate",
            "--https-port", str(self.port), "--http-port", str(free_port()),
            "--state-dir", str(state), "--latency-ms", str(latency_ms), "--final-list-404-s", "0",
            "--space", f"id={HOUR_ID},start=-7200,duration=3600,title=Bench hour",
            "--space", f"id={LONG_ID},start=-40000,duration=30000,title=Bench long", *faults,
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.spaces = {s["id"]: s for s in self.get("/_sim/").json()["spaces"]}
                return
            except (OSError, httpx.HTTPError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.2)

    def get(self, url: str) -> httpx.Response:
        verify = ssl.create_default_context(cafile=self.ca)
        return httpx.get(urljoin(self.url, url), verify=verify, timeout=60)

    def lists(self, space_id: str) -> tuple[str, str, m3u8.M3U8]:
        """Master URL, replay chunk-list URL (chunks resolve on non_transcode), the list. For a
        camera Space: its master twice (a player picks the rendition), the best's list."""
        master = self.spaces[space_id]["master"]
        if playlists.is_camera(master):
            master = playlists.master_url(master)
            best = self.chunk_list(space_id)
            return master, master, m3u8.loads(self.get(best).text)
        variant = self.get(master).text.split("\n")[3]
        listing = m3u8.loads(self.get(variant).text)
        replay = master.rsplit("/", 1)[0] + "/" + variant.rsplit("/", 1)[1] + "?type=replay"
        return master, replay, listing

    def chunk_list(self, space_id: str) -> str:
        """The final chunk list's URL, as spacecast resolves it from the master."""
        master = playlists.master_url(self.spaces[space_id]["master"])
        return playlists.chunk_list_url(master, self.get(master).text)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def commands(
    sim: Sim, space_id: str, out: Path, envs: Path, cookies: Path
) -> dict[str, tuple[list[str], dict[str, str], Path]]:
    master, replay, _ = sim.lists(space_id)
    # Bytecode is written (once, at the warm-up run) as on any normal install.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
        "SPACECAST_X_BASE_URL": sim.url,
        "SPACECAST_X_API_BASE_URL": sim.url,
        "SPACECAST_X_CA_FILE": sim.ca,
        "SPACECAST_LOG_LEVEL": "warning",
    }
    spacecast = [
        sys.executable, "-m", "spacecast.cli", "download", space_id,
        "-o", str(out / "spacecast.m4a"), "--work-dir", str(out / "work"),
        "--progress", "none",
    ]  # fmt: skip
    twspace = [str(envs / "twspace-dl" / "bin" / "twspace_dl"), "-c", str(cookies), "-f", master,
               "-o", "twspace"]  # fmt: skip
    ytdlp = [
        str(envs / "yt-dlp" / "bin" / "yt-dlp"), "--no-check-certificates", "--quiet",
        "--no-progress", "-N", str(YTDLP_FRAGMENTS), "-o", str(out / "ytdlp.%(ext)s"), replay,
    ]  # fmt: skip
    bare = [sys.executable, "-m", "bench.bare_fetch", sim.chunk_list(space_id), sim.ca,
            str(CONCURRENCY)]  # fmt: skip
    return {
        "bare fetch": (bare, env, HERE.parent),
        "spacecast": (spacecast, env, out),
        "twspace-dl": (twspace, env | {"REQUESTS_CA_BUNDLE": sim.ca}, out),
        "yt-dlp": (ytdlp, env, out),
    }


def output_of(tool: str, out: Path) -> Path | None:
    prefix = {"spacecast": "spacecast", "twspace-dl": "twspace", "yt-dlp": "ytdlp"}.get(tool)
    if prefix is None:
        return None
    found = sorted(p for p in out.glob(f"{prefix}.*") if p.suffix in (".m4a", ".mp4", ".aac"))
    return found[0] if found else None


def warm_up(tool: str, sim: Sim, tmp: Path, envs: Path) -> None:
    """Run the tool once with --help, so that no measured run pays for compiling bytecode."""
    cmd, env, cwd = commands(sim, HOUR_ID, tmp, envs, netscape_cookies(tmp))[tool]
    warm = {
        "spacecast": [*cmd[:4], "--help"],
        "bare fetch": [cmd[0], "-c", "import bench.bare_fetch"],
    }.get(tool, [cmd[0], "--help"])
    subprocess.run(warm, env=env, cwd=cwd, capture_output=True, check=False)


def measure(
    tool: str, sim: Sim, space_id: str, latency: int, tmp: Path, envs: Path, *extra: str
) -> Row:
    out = Path(tempfile.mkdtemp(prefix=f"{tool}-", dir=tmp))
    cmd, env, cwd = commands(sim, space_id, out, envs, netscape_cookies(tmp))[tool]
    raw = "--format" in extra
    if extra:
        cmd = [*cmd[:-2], *extra, *cmd[-2:]] if tool == "spacecast" else cmd
    if raw or space_id == CAMERA_ID:
        ext = "aac" if raw else "mp4"
        cmd = [c.replace("spacecast.m4a", f"spacecast.{ext}") for c in cmd]
    # The growth of spacecast's own RSS along a long Space (issue 15: at most 5 MB from chunk
    # 2,000 to chunk 10,000), sampled as its manifest grows.
    manifest = LineCounter(out / "work" / space_id / "manifest.jsonl")
    marks = RSS_MARKS if tool == "spacecast" and space_id == LONG_ID else ()
    usage: Usage = run(cmd, env, cwd, out / "log.txt", manifest, marks)
    _, _, listing = sim.lists(space_id)
    expected = sum(s.duration for s in listing.segments)
    produced = output_of(tool, out)
    note = "" if usage.returncode == 0 else f"exit {usage.returncode}"
    note = "no file" if tool == "bare fetch" and not note else note
    try:
        # Raw ADTS has no duration field (ffprobe guesses from the bitrate): not compared.
        error = ffprobe_duration(produced) - expected if produced and not raw else None
    except subprocess.CalledProcessError:  # e.g. raw ADTS and ID3 bytes saved as .mp4
        produced, error, note = None, None, "file unreadable"
    row = Row(
        tool=tool,
        space=space_id,
        latency_ms=latency,
        chunks=len(listing.segments),
        wall_s=round(usage.wall_s, 2),
        cpu_s=round(usage.cpu_s, 2),
        peak_rss_mb=round(usage.peak_rss_mb, 1),
        duration_error_s=None if error is None else round(error, 3),
        ok=usage.returncode == 0 and (produced is not None or tool == "bare fetch"),
        note=" ".join([*extra, *_rss_note(usage)]) or note,
    )
    shutil.rmtree(out, ignore_errors=True)
    return row


def lost_chunks(latency: int, tmp: Path, envs: Path, repeat: int) -> Row:
    """spacecast on the same hour from a simulator that answers 404 for 3 listed chunks."""
    faults = [arg for seq in LOST for arg in ("--lost-chunks", seq)]
    sim = Sim(latency, Path(tempfile.mkdtemp(dir=tmp)), *faults)
    try:
        extra = ("--gaps", "silence")
        runs = [
            measure("spacecast", sim, HOUR_ID, latency, tmp, envs, *extra) for _ in range(repeat)
        ]
        print(*runs, sep="\n", file=sys.stderr)
        row = median_run(runs)
        row.note = f"{len(LOST)} listed chunks lost, {row.note}"
        return row
    finally:
        sim.stop()


def through_edge(latency: int, tmp: Path, envs: Path, repeat: int) -> list[Row]:
    """spacecast on the same hour through an HTTP/2 edge, over HTTP/2 and over HTTP/1.1."""
    sim = Sim(latency, Path(tempfile.mkdtemp(dir=tmp)), "--http2")
    rows = []
    try:
        for label, extra in (("HTTP/2 edge", ()), ("HTTP/1.1 edge", ("--no-x-http2",))):
            runs = [measure("spacecast", sim, HOUR_ID, latency, tmp, envs, *extra)
                    for _ in range(repeat)]  # fmt: skip
            print(*runs, sep="\n", file=sys.stderr)
            row = median_run(runs)
            row.note = f"{label}; {row.note}"
            rows.append(row)
    finally:
        sim.stop()
    return rows


def camera(latency: int, tmp: Path, envs: Path, repeat: int, tools: list[str]) -> list[Row]:
    """The camera Space: spacecast's mp4 against yt-dlp's and the bare fetch. A first bare
    fetch, not measured, has the simulator make every segment (it keeps them), so that no tool
    pays for the simulator's muxing."""
    sim = Sim(latency, Path(tempfile.mkdtemp(dir=tmp)), "--space", CAMERA_SPACE)
    rows = []
    try:
        measure("bare fetch", sim, CAMERA_ID, latency, tmp, envs)
        for tool in (t for t in tools if t != "twspace-dl"):
            runs = [measure(tool, sim, CAMERA_ID, latency, tmp, envs)
                    for _ in range(repeat if tool in QUICK else 1)]  # fmt: skip
            print(*runs, sep="\n", file=sys.stderr)
            row = median_run(runs)
            row.note = f"camera 720p; {row.note}" if row.note else "camera 720p"
            rows.append(row)
    finally:
        sim.stop()
    return rows


def _rss_note(usage: Usage) -> list[str]:
    if len(usage.rss_at) < len(RSS_MARKS):
        return []
    low, high = (usage.rss_at[m] for m in RSS_MARKS)
    return [f"own RSS {low:.0f} MB at chunk {RSS_MARKS[0]:,}, {high:.0f} MB at {RSS_MARKS[1]:,}"]


def median_run(runs: list[Row]) -> Row:
    """The run with the median wall time, noted with the spread of all of them."""
    ranked = sorted(runs, key=lambda r: r.wall_s)
    middle = ranked[len(ranked) // 2]
    if len(ranked) > 1:
        spread = f"median of {len(ranked)}: {ranked[0].wall_s:.2f}-{ranked[-1].wall_s:.2f} s"
        middle.note = f"{middle.note}; {spread}" if middle.note else spread
    return middle


def netscape_cookies(tmp: Path) -> Path:
    """twspace-dl insists on cookies: two well-formed ones (the simulator accepts any)."""
    path = tmp / "cookies.txt"
    rows = [("auth_token", "a" * 40), ("ct0", "b" * 160)]
    path.write_text("# Netscape HTTP Cookie File\n" + "".join(
        f".x.com\tTRUE\t/\tTRUE\t0\t{n}\t{v}\n" for n, v in rows))  # fmt: skip
    return path


def table(rows: list[Row]) -> Table:
    out = Table(
        title="spacecast download vs peers (1-hour Space; a 10-minute camera Space; "
        "10,000-chunk Space last)"
    )
    for col in ("tool", "chunks", "latency", "wall s", "CPU s", "peak RSS MB", "x spacecast",
                "ideal s", "duration error s"):  # fmt: skip
        out.add_column(col, justify="left" if col == "tool" else "right")
    base: dict[tuple[str, int], float] = {}
    for r in rows:  # spacecast's first row per Space and latency: m4a, as a user runs it
        if r.tool == "spacecast":
            base.setdefault((r.space, r.latency_ms), r.wall_s)
    for r in rows:
        ideal = r.chunks * r.latency_ms / 1000 / CONCURRENCY
        out.add_row(
            r.tool + (f" ({r.note})" if r.note else ""), str(r.chunks), f"{r.latency_ms} ms",
            f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}", f"{r.peak_rss_mb:.0f}",
            f"{r.wall_s / base[(r.space, r.latency_ms)]:.1f}",
            f"{ideal:.2f}", "-" if r.duration_error_s is None else f"{r.duration_error_s:+.3f}",
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[20, 100])
    parser.add_argument(
        "--tools", nargs="+", default=["bare fetch", "spacecast", "twspace-dl", "yt-dlp"]
    )
    parser.add_argument("--no-long", action="store_true", help="Skip the 10,000-chunk Space.")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs of the quick tools; the median is shown."
    )
    args = parser.parse_args()
    envs = HERE / "envs"
    for peer in ("twspace-dl", "yt-dlp"):
        if peer in args.tools:
            peer_env(peer, envs)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-download-") as tmp_name:
        tmp = Path(tmp_name)
        for latency in args.latency_ms:
            sim = Sim(latency, Path(tempfile.mkdtemp(dir=tmp)))
            try:
                for tool in args.tools:
                    warm_up(tool, sim, tmp, envs)
                    runs = [
                        measure(tool, sim, HOUR_ID, latency, tmp, envs)
                        for _ in range(args.repeat if tool in QUICK else 1)
                    ]
                    print(*runs, sep="\n", file=sys.stderr)
                    rows.append(median_run(runs))
                if latency == args.latency_ms[0] and "spacecast" in args.tools:
                    rows.append(lost_chunks(latency, tmp, envs, args.repeat))
                    rows += through_edge(latency, tmp, envs, args.repeat)
                    rows += camera(latency, tmp, envs, args.repeat, args.tools)
                if not args.no_long and latency == args.latency_ms[0]:
                    for extra in ((), ("--format", "aac")):
                        rows.append(measure("spacecast", sim, LONG_ID, latency, tmp, envs, *extra))
                        print(rows[-1], file=sys.stderr)
            finally:
                sim.stop()
    console = Console(width=150)
    console.print(table(rows))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(f"{os.cpu_count()} cores; load average at the end {load}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "download.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))


if __name__ == "__main__":
    main()
