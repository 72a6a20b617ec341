"""The distribution's split (pyproject.toml): each command imports only what the core and its
own extra require, so an image that installs `spacecast[controller]` runs the controller
without Playwright, and one with `spacecast[session]` runs a cast without Kubernetes' client,
the simulator or devcluster. A command run without its extra says which extra to install."""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from spacecast.cli import COMMANDS, EXTRAS

ROOT = Path(__file__).resolve().parents[1]
# Imported by structlog when present (rich tracebacks, greenlet-aware context), and by rich
# when present (attrs): never needed.
OPTIONAL_OF_DEPENDENCIES = {"rich", "pygments", "greenlet", "attrs"}
# Every module of each command's package, but test harnesses that are not the command's.
NOT_THE_COMMAND = {"devcluster.pytest_plugin"}


def _modules(package: str) -> list[str]:
    path = ROOT / package.replace(".", "/")
    found = [f"{package}.{m.name}" for m in pkgutil.walk_packages([str(path)])]
    return [m for m in found if m not in NOT_THE_COMMAND]


RUNS = {
    "session": ["spacecast.session.cli", *_modules("spacecast.session")],
    "download": ["spacecast.download.cli", *_modules("spacecast.download")],
    "controller": ["controller.cli", *_modules("controller")],
    "simulate": ["simulator.cli", *_modules("simulator")],
    "dev-cluster": ["devcluster.cli", *_modules("devcluster")],
    "demo": ["spacecast.demo"],
}
PROBE = """
import importlib, json, sys, sysconfig
from importlib.metadata import packages_distributions
for name in sys.argv[1:]:
    importlib.import_module(name)
site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
dists = packages_distributions()
tops = {n.split(".")[0] for n, m in list(sys.modules.items())
        if any((getattr(m, "__file__", None) or "").startswith(s) for s in site)}
ours = sorted(n for n in ("spacecast", "simulator", "devcluster", "controller") if n in sys.modules)
print(json.dumps({"dists": sorted({d for t in tops for d in dists.get(t, [t])}), "ours": ours}))
"""


def imported(modules: list[str]) -> dict[str, list[str]]:
    """The distributions (and our packages) that importing `modules` loads, in a fresh
    interpreter."""
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.splitlines()[-1])  # type: ignore[no-any-return]


@cache
def closure(extra: str | None) -> frozenset[str]:
    """Every distribution `spacecast[extra]` requires, transitively, on this interpreter."""
    names: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [("spacecast", frozenset({extra} if extra else set()))]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker and not any(req.marker.evaluate(env) for env in environments):
                continue
            key = canonicalize_name(req.name)
            if key != "spacecast":  # not an extra made of extras
                names.add(key)
            todo.append((key, frozenset(req.extras)))
    return frozenset(names)


@pytest.mark.parametrize("command", sorted(RUNS))
def test_a_command_imports_only_the_core_and_its_extra(command: str) -> None:
    loaded = imported(RUNS[command])
    allowed = closure(EXTRAS[command]) | OPTIONAL_OF_DEPENDENCIES
    beyond = {canonicalize_name(d) for d in loaded["dists"]} - allowed
    assert not beyond, f"{command} imports {sorted(beyond)}, not in spacecast[{EXTRAS[command]}]"


def test_the_split_keeps_the_media_stack_and_the_dev_tools_apart() -> None:
    # (kubernetes 37 itself requires aiohttp, for kubernetes.aio)
    assert "playwright" not in closure("controller") and "httpx" not in closure("controller")
    assert "kubernetes" not in closure("session") and "trustme" not in closure("session")
    assert imported(RUNS["session"])["ours"] == ["spacecast"]  # no simulator, no devcluster
    assert imported(RUNS["controller"])["ours"] == ["controller", "spacecast"]
    core = {canonicalize_name(d) for d in imported(["spacecast.cli"])["dists"]}
    assert core <= closure(None) | OPTIONAL_OF_DEPENDENCIES
    assert set(EXTRAS) == set(COMMANDS)


BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {missing!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
from spacecast.cli import main
sys.exit(main({argv!r}))
"""


@pytest.mark.parametrize(
    ("missing", "argv", "extra"),
    [
        ("playwright", ["session", "--help"], "session"),
        ("kubernetes", ["controller", "run", "--namespace", "x"], "controller"),
        ("mutagen", ["download", "1x"], "download"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(missing: str, argv: list[str], extra: str) -> None:
    run = subprocess.run([sys.executable, "-c", BLOCK.format(missing=missing, argv=argv)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"spacecast {argv[0]}: error: needs the '{extra}' extra, and {missing} is not "
        f"installed: pip install 'spacecast[{extra}]' (exit 3)"
    ]


def test_the_other_commands_are_listed_when_one_extra_is_missing() -> None:
    run = subprocess.run([sys.executable, "-c", BLOCK.format(missing="playwright", argv=["-h"])],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    listed = re.findall(r"^ {4}(\S+)", run.stdout, re.MULTILINE)
    assert "session" not in listed and {"controller", "download", "simulate"} <= set(listed)


def test_an_image_without_our_other_packages_lists_and_refuses_by_name() -> None:
    """The session image leaves out simulator/, devcluster/ and controller/ (Dockerfile)."""
    listing = subprocess.run([sys.executable, "-c", BLOCK.format(missing="simulator", argv=["-h"])],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    listed = re.findall(r"^ {4}(\S+)", listing.stdout, re.MULTILINE)
    assert "simulate" not in listed and {"session", "controller"} <= set(listed)
    chosen = subprocess.run([sys.executable, "-c", BLOCK.format(missing="simulator",
                             argv=["simulate"])], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert chosen.returncode == 3 and chosen.stderr.count("\n") == 1, chosen.stderr
    assert "needs the 'simulator' extra" in chosen.stderr
