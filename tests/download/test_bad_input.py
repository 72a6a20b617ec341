"""Each bad input: one line on stderr, its own exit code, nothing at the target."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from spacecast.download.workdir import StoredChunk, WorkDir
from spacecast.errors import ExitCode
from spacecast.x import api
from tests.simulator.conftest import MakeSim

from .conftest import Download, Result

SPACES = [
    "id=1EndedReplay1,start=-900,duration=60",
    "id=1EndedNoRep12,start=-900,duration=60,replay=no",
]


def one_line_error(result: Result, code: int, tmp_path: Path, text: str = "") -> None:
    assert result.code == code, result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("spacecast download: error: ") and text in last
    assert "Traceback" not in result.err
    # --json: the failure's own one-line summary on stdout, for scripts.
    failed = result.summary
    assert failed["exit_code"] == code and failed["error"] in last and text in failed["error"]
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["https://x.com/i/status/123"], ExitCode.INVALID_SPACE, "not a Space URL or id"),
        (["1short"], ExitCode.INVALID_SPACE, "not a Space URL or id"),
        (["1Unknown12345"], ExitCode.SPACE_NOT_FOUND, "not found"),
        (["1EndedNoRep12"], ExitCode.NO_REPLAY, "without a replay"),
        (["1EndedReplay1", "--cookies", "/nonexistent"], ExitCode.BAD_COOKIES, "cookies"),
        (["1EndedReplay1", "-o", "{nope}.m4a"], ExitCode.USAGE, "template"),
        (["1EndedReplay1", "--concurrency", "0"], ExitCode.USAGE, "concurrency"),
    ],
)
def test_bad_input(
    make_sim: MakeSim,
    download: Download,
    tmp_path: Path,
    args: list[str],
    code: int,
    text: str,
) -> None:
    sim = make_sim(space=SPACES, final_list_404_s=0)
    one_line_error(download(sim, *args), code, tmp_path, text)


def test_auth_refused(make_sim: MakeSim, download: Download, tmp_path: Path) -> None:
    sim = make_sim(space=SPACES, guest_enabled=False)
    one_line_error(download(sim, "1EndedReplay1"), ExitCode.AUTH_REFUSED, tmp_path, "refused")


def test_feature_flags_rejected(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "QUERIES", (api.Query("HPEisOmj1epUNLCWTYhUWw", {}, {}),))
    sim = make_sim(space=SPACES)
    result = download(sim, "1EndedReplay1")
    one_line_error(result, ExitCode.FEATURES_REJECTED, tmp_path, "cannot be null")


def test_rate_limited_beyond_budget(make_sim: MakeSim, download: Download, tmp_path: Path) -> None:
    sim = make_sim(space=SPACES, burst_429_every=1, burst_429_length=1000, burst_429_reset_s=600)
    result = download(sim, "1EndedReplay1", "--rate-limit-budget-s", "1")
    one_line_error(result, ExitCode.RATE_LIMITED, tmp_path, "rate-limited")


def test_disk_full(
    make_sim: MakeSim, download: Download, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: WorkDir, chunk: StoredChunk, audio: bytes, video: bytes = b"") -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.data_path))

    monkeypatch.setattr(WorkDir, "put", full)
    sim = make_sim(space=SPACES, final_list_404_s=0)
    result = download(sim, "1EndedReplay1")
    one_line_error(result, ExitCode.DISK_FULL, tmp_path, "no space left")


def test_existing_output(make_sim: MakeSim, download: Download, tmp_path: Path) -> None:
    sim = make_sim(space=SPACES, final_list_404_s=0)
    target = tmp_path / "space.m4a"
    target.write_bytes(b"precious")
    result = download(sim, "1EndedReplay1", "-o", str(target))
    assert result.code == ExitCode.OUTPUT_EXISTS and target.read_bytes() == b"precious"
    result = download(sim, "1EndedReplay1", "-o", str(target), "--overwrite")
    assert result.code == 0, result.err
    assert target.read_bytes()[4:8] == b"ftyp"  # the m4a replaced it
