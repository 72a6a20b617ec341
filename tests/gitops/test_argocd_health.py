"""The Argo CD health check (gitops/argocd/spacecast.dev/SpaceCast/health.lua), run by Debian's
Lua 5.1, the dialect Argo CD speaks, on SpaceCasts whose status the controller's own status
builder wrote, in every phase."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from controller.status import _condition

from .samples import PHASES, cast, phase

HEALTH = Path(__file__).resolve().parents[2] / "gitops/argocd/spacecast.dev/SpaceCast/health.lua"


def lua(value: Any) -> str:
    """A Python value as a Lua 5.1 literal (how Argo CD hands the object to the script)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(str(k))}] = {lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "nil"
    escaped = "".join(c if c.isalnum() or c in " .,:/-_" else
                      "".join(f"\\{byte:03d}" for byte in c.encode())  # Lua 5.1: \ddd bytes
                      for c in str(value))  # fmt: skip
    return f'"{escaped}"'


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua51 = shutil.which("lua5.1", path="/usr/bin:/bin")
    assert lua51, "lua5.1 is missing: scripts/install-deps.sh installs it"
    runner = (f"obj = {lua(obj)}\nlocal hs = dofile({lua(str(HEALTH))})\n"
              "io.write(hs.status, '\\n', hs.message)")  # fmt: skip
    done = subprocess.run([lua51, "-"], input=runner, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    status, message = done.stdout.split("\n", 1)
    return status, message


@pytest.mark.parametrize(("status", "want"), [
    (None, "Progressing"),
    *[(PHASES[name], want) for name, want in [
        ("waiting for a slot", "Progressing"), ("waiting for a Secret", "Progressing"),
        ("starting", "Progressing"), ("live", "Healthy"), ("completed", "Healthy"),
        ("suspended", "Suspended"), ("failed", "Degraded")]],
    ({"phase": "Exploded", "observedGeneration": 1}, "Unknown"),
])  # fmt: skip
def test_every_phase_has_its_health(status: dict[str, Any] | None, want: str) -> None:
    got, message = health(cast(status))
    assert got == want, message
    if status and status.get("message"):
        assert message == status["message"]


def test_a_status_for_an_older_spec_is_still_progressing() -> None:
    got, message = health(cast(phase("Live", "Live", "media is flowing", gen=1), generation=2))
    assert (got, message) == (
        "Progressing",
        "the spacecast controller has not seen the latest spec yet",
    )


def test_a_silent_live_cast_is_healthy_and_says_so() -> None:
    status = phase("Live", "Live", "media is flowing")
    status["conditions"].append(_condition({}, "Silent", True, "Silent",
                                           "the cast's audio is below the silence threshold", 1,
                                           "2026-12-01T12:00:00Z"))  # fmt: skip
    got, message = health(cast(status))
    assert got == "Healthy" and message.startswith("Live, but silent: the cast's audio is below")


def test_the_literal_survives_quotes_newlines_and_unicode() -> None:
    text = 'said "no"\n\t1 then \\ left — ✓'  # a tab before a digit: \009 then 1, not \91
    assert health(cast(phase("Failed", "Odd", text))) == ("Degraded", text)
