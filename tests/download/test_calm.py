"""Calm under failure: ordinary network mistakes, chunks X lost or cut short, and hostile
paths, templates and titles each end in one line with their own exit code, and lose nothing."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spacecast.backoff import RetryPolicy
from spacecast.download import fetch, join
from spacecast.errors import ExitCode
from spacecast.x.playlists import ChunkRef
from tests.simulator.conftest import MakeSim

from .conftest import Download, adts_frames, adts_of, final_list, truth
from .test_bad_input import one_line_error

pytestmark = pytest.mark.slow
SPACE_ID = "1EndedReplay1"
SPACE = f"id={SPACE_ID},start=-900,duration=60,title=Old Talk,host=old_host"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once it is closed


# Network mistakes ---------------------------------------------------------------------------


def test_a_host_that_refuses_is_named(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    port = closed_port()
    result = download(sim, SPACE_ID, "--x-api-base-url", f"https://127.0.0.1:{port}")
    one_line_error(
        result, ExitCode.X_UNREACHABLE, tmp_path, f"127.0.0.1:{port}: connection refused"
    )


def test_a_certificate_that_does_not_verify_says_what_to_do(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    monkeypatch.setenv("SPACECAST_X_CA_FILE", "")  # the simulator's CA is not trusted now
    result = download(sim, SPACE_ID, "--x-ca-file", "")
    one_line_error(result, ExitCode.TLS_UNTRUSTED, tmp_path, "--x-ca-file")
    assert f"localhost:{sim.https_url.rsplit(':', 1)[1]}" in result.err


@pytest.mark.parametrize(
    ("ca", "says"),
    [
        ("missing.pem", "no such file or directory"),
        ("notes.txt", "no PEM certificate in it"),
        ("/dev/zero", "not a regular file"),  # never read forever
        ("fifo", "not a regular file"),  # never waited on for a writer
    ],
)
def test_a_ca_file_that_cannot_serve_is_named(
    make_sim: MakeSim, download: Download, tmp_path: Path, ca: str, says: str
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    (tmp_path / "notes.txt").write_text("not a certificate\n")
    os.mkfifo(tmp_path / "fifo")
    path = ca if ca.startswith("/") else str(tmp_path / ca)
    result = download(sim, SPACE_ID, "--x-ca-file", path)
    one_line_error(result, ExitCode.BAD_CA_FILE, tmp_path, f"--x-ca-file {path}: {says}")


def test_the_session_names_an_unreachable_host_too(tmp_path: Path) -> None:
    destinations = tmp_path / "destinations"
    destinations.write_text("rtmp://127.0.0.1:1/app/key\n")
    x = f"https://127.0.0.1:{closed_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "spacecast.cli", "session", "--space", "1AAAAAAAAAAAA",
         "--destinations-file", str(destinations), "--metrics-port", "0", "--x-base-url", x,
         "--x-api-base-url", x, "--termination-log", str(tmp_path / "summary.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == ExitCode.X_UNREACHABLE, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr and f"{x[8:]}: connection refused" in last


# Chunks X lost or cut short --------------------------------------------------------------------


def test_a_listed_chunk_x_lost_is_decided_quickly_and_shown(
    make_sim: MakeSim, download: Download
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, lost_chunks=[4, 11])
    result = download(sim, SPACE_ID, "--gaps", "silence", "--backoff-s", "5")
    assert result.code == 0, result.err
    assert [(g["from_seq"], g["to_seq"]) for g in result.summary["gaps"]] == [(4, 4), (11, 11)]
    shown = sorted(json.loads(line)["seq"] for line in result.err.splitlines()
                   if "chunk missing" in line)  # fmt: skip
    assert shown == [4, 11]
    assert result.err.count('"event": "retrying"') >= 2 * (fetch.MISSING_AFTER - 1)


async def test_404s_for_a_listed_chunk_wait_briefly(make_sim: MakeSim) -> None:
    """The waits the fetcher asks for, recorded (no clock): three pauses between four 404s,
    shorter in all than the first three of the long policy (at least 0.875 s) would be."""
    sim = make_sim(space=[SPACE], final_list_404_s=0, lost_chunks=[4])
    segment = final_list(sim, SPACE_ID).segments[4]
    master = next(s["master"] for s in sim.spaces() if s["id"] == SPACE_ID)
    ref = ChunkRef(4, master.rsplit("/", 1)[0] + "/" + segment.uri, segment.duration)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    verify = ssl.create_default_context(cafile=sim.ca_file)
    async with httpx.AsyncClient(verify=verify) as client:
        fetcher = fetch.Fetcher(client, RetryPolicy(8, base_s=0.25, max_s=10.0), sleep=record)
        assert await fetcher.chunk(ref) is None
    assert len(waits) == fetch.MISSING_AFTER - 1 and sum(waits) <= 0.7, waits


@pytest.mark.parametrize("policy", ["fail", "silence"])
def test_a_chunk_served_cut_short_is_a_gap_of_known_length(
    make_sim: MakeSim, download: Download, tmp_path: Path, policy: str
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0, short_chunks=[7])
    target = tmp_path / "space.aac"
    result = download(sim, SPACE_ID, "--gaps", policy, "--format", "aac", "-o", str(target))
    count = len(final_list(sim, SPACE_ID).segments)
    if policy == "fail":
        assert result.code == ExitCode.MISSING_CHUNKS
        last = result.err.strip().splitlines()[-1]
        assert "chunk 7 cut short by 1 frame (0.021 s)" in last and "other chunks are kept" in last
        assert result.summary["gaps"] == [
            {"from_seq": 7, "to_seq": 7, "seconds": 0.021, "cut_short": True}
        ]
        return
    assert result.code == 0, result.err
    assert result.summary["gaps"][0]["cut_short"] is True
    whole = truth(sim, SPACE_ID, 7, 8)
    last_frame = len(adts_frames(whole)[-1])
    silence = join.silent_frame()
    expected = truth(sim, SPACE_ID, 0, 7) + whole[:-last_frame] + silence
    assert target.read_bytes() == expected + truth(sim, SPACE_ID, 8, count)


# Hostile paths, templates, titles ---------------------------------------------------------------


def test_only_regular_files_are_replaced(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    """`-o /dev/null --overwrite` as root once swapped /dev/null for a file: a device of the
    test's own stands in for it here."""
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    result = download(sim, SPACE_ID, "-o", str(device), "--overwrite")
    assert result.code == ExitCode.PATH_UNUSABLE and "not a regular file" in result.err
    assert stat.S_ISCHR(device.lstat().st_mode)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert download(sim, SPACE_ID, "-o", str(fifo), "--overwrite").code == ExitCode.PATH_UNUSABLE
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["-o", "/proc/space.m4a"], ExitCode.PATH_UNUSABLE, "cannot write /proc/"),
        (["-o", "{id.nope}.m4a"], ExitCode.USAGE, "{id.nope} is not one of"),
        (["-o", "{id:>300}.m4a"], ExitCode.USAGE, "a width over 255"),
        (["-o", "{id:>9999999999}"], ExitCode.USAGE, "a width over 255"),  # 10 GB if built
        (["-o", "{id:>" + "9" * 5000 + "}"], ExitCode.USAGE, "a width over 255"),
        (["--work-dir", "{tmp}/a-file"], ExitCode.PATH_UNUSABLE, "work directory"),
    ],
)
def test_paths_and_templates_that_cannot_serve(
    make_sim: MakeSim, download: Download, tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    (tmp_path / "a-file").write_text("a file, where a directory should be\n")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    one_line_error(download(sim, SPACE_ID, *args), code, tmp_path, says)


def test_a_disk_that_fills_while_writing_m4a_is_disk_full(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ffmpeg writes the m4a into /dev/full, which answers every write with ENOSPC."""
    remux = join.remux_command
    monkeypatch.setattr(join, "remux_command", lambda dst: remux(Path("/dev/full")))
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    one_line_error(download(sim, SPACE_ID), ExitCode.DISK_FULL, tmp_path, "no space left")


@pytest.mark.parametrize("title", ["漢" * 70, "🎙️" * 70, "evil\u202egpj.m4a\u2066x\u0007"])
def test_a_title_of_any_script_makes_a_name(
    make_sim: MakeSim, download: Download, tmp_path: Path, title: str
) -> None:
    sim = make_sim(space=[SPACE.replace("title=Old Talk", f"title={title}")], final_list_404_s=0)
    (tmp_path / "out").mkdir()
    result = download(sim, SPACE_ID, "-o", str(tmp_path / "out"))
    assert result.code == 0, result.err
    name = Path(result.summary["output"]).name
    assert len(name.encode()) <= 255 - 32 and name.endswith(f"({SPACE_ID}).m4a")
    assert not any(ch in name for ch in "\u202e\u2066\u0007")
    assert (tmp_path / "out" / name).stat().st_size > 0


def test_the_result_is_the_same_as_with_a_plain_name(
    make_sim: MakeSim, download: Download, tmp_path: Path
) -> None:
    """The name work changes no byte of the audio (the CJK title's file against the truth)."""
    sim = make_sim(
        space=[SPACE.replace("title=Old Talk", "title=" + "漢" * 70)], final_list_404_s=0
    )
    result = download(sim, SPACE_ID, "-o", str(tmp_path / "out"))
    count = len(final_list(sim, SPACE_ID).segments)
    assert adts_of(Path(result.summary["output"])) == truth(sim, SPACE_ID, 0, count)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only file system of the test's own (a tmpfs mounted ro); skipped where the test
    may not mount (a chroot, no root)."""
    where = tmp_path / "ro"
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_an_output_on_a_read_only_file_system(
    make_sim: MakeSim, download: Download, tmp_path: Path, read_only_dir: Path
) -> None:
    sim = make_sim(space=[SPACE], final_list_404_s=0)
    result = download(sim, SPACE_ID, "-o", str(read_only_dir / "space.m4a"))
    one_line_error(result, ExitCode.PATH_UNUSABLE, tmp_path, "Read-only file system")
    result = download(sim, SPACE_ID, "--work-dir", str(read_only_dir / "work"))
    one_line_error(result, ExitCode.PATH_UNUSABLE, tmp_path, "Read-only file system")
