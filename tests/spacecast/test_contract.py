"""The exit contract: every code has a class, the summary fits a termination message whatever
it holds, and the README and the help texts say what the module says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from spacecast import contract
from spacecast.contract import (
    AUDIO_SOURCE_KEY,
    SEQ_KEY,
    SILENT_KEY,
    ExitClass,
    ExitCode,
    Facts,
    Summary,
    report_event,
)

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("code", list(ExitCode))
def test_every_exit_code_has_a_meaning_and_a_class(code: ExitCode) -> None:
    entry = contract.EXITS.get(code)
    assert entry is not None, f"exit {code} ({code.name}) is not in contract.EXITS"
    assert entry.meaning and entry.commands and isinstance(entry.klass, ExitClass)
    assert contract.exit_class(code) is entry.klass


def test_classes_of_the_codes_a_controller_acts_on() -> None:
    assert contract.exit_class(0) is ExitClass.SUCCESS
    permanent = [30, 32, 11, 14, 21, 10, 2]  # a bad key, bad input: retrying cannot help
    assert {contract.exit_class(c) for c in permanent} == {ExitClass.PERMANENT}
    transient = [31, 33, 3, 1, 137, 143, 255]  # the world may change; kills and OOM too
    assert {contract.exit_class(c) for c in transient} == {ExitClass.TRANSIENT}


def _rows(n: int) -> list[dict[str, object]]:
    states = ["publishing", "reconnecting", "down", "rejected"]
    return [{"index": i, "state": states[i % 4], "reconnects": i * 7} for i in range(n)]


def test_a_thousand_destinations_fit_a_termination_message() -> None:
    summary = Summary(
        space_id="1AudioSpace01", reason="failed", exit_code=31, message="every destination "
        "is down: " + "x" * 5000, **contract.summarize_destinations(_rows(1000)),
    )  # fmt: skip
    line = summary.line()
    assert len(line.encode()) < contract.TERMINATION_MESSAGE_LIMIT
    back = json.loads(line)
    assert back["destinations_total"] == 1000
    assert back["destinations_by_state"] == {
        "publishing": 250, "reconnecting": 250, "down": 250, "rejected": 250,
    }  # fmt: skip
    assert back["destinations"][0] == {"index": 0, "state": "publishing", "reconnects": 0}
    assert back["exit_class"] == "transient"


def test_a_hostile_summary_still_fits_and_parses() -> None:
    hostile = "\x00\x1b[31m\u202e" + "é\n" * 10_000
    summary = Summary.failure(hostile, ExitCode.USAGE, hostile)
    line = summary.line()
    assert len(line.encode()) < contract.TERMINATION_MESSAGE_LIMIT and "\n" not in line
    parsed = Summary.parse(line + "\n")
    assert parsed is not None and parsed.exit_code == 2 and parsed.exit_class == "permanent"


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"reason": "failed"}', "\n\n"])
def test_what_is_not_a_summary_parses_to_none(text: str) -> None:
    assert Summary.parse(text) is None


@pytest.mark.parametrize("command", ["download", "session"])
def test_the_readme_table_is_the_contract(command: str) -> None:
    table = contract.markdown_table(command)
    assert table in README.read_text(), (
        f"README.md lacks `spacecast {command}`'s exit codes as the contract has them:\n{table}"
    )


@pytest.mark.parametrize("command", ["download", "session"])
def test_help_lists_every_exit_code(command: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "spacecast.cli", command, "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    listed = [int(c) for c in re.findall(r"^\s+(\d+)  ", out, re.MULTILINE)]
    assert listed == [code for code, _, _ in contract.exit_table(command)]


def test_facts_read_back_and_anything_else_is_not_a_report() -> None:
    facts = Facts("rescue", True)
    assert Facts.read(facts.annotations(7)) == (7, facts)
    good = facts.annotations(1)
    fullwidth_one = "\uff11"  # str.isdigit() and int() take it
    for bad in ({**good, AUDIO_SOURCE_KEY: "rtmp://x"}, {**good, SILENT_KEY: "yes"},
                {**good, SEQ_KEY: "-1"}, {**good, SEQ_KEY: fullwidth_one},
                {**good, SEQ_KEY: "9" * 5000}, {}):  # fmt: skip
        assert Facts.read(bad) is None, bad


def test_every_change_of_facts_has_its_reason() -> None:
    browser, rescue = Facts("browser", False), Facts("rescue", False)
    assert report_event(None, browser)[1] == "Casting"
    assert report_event(browser, rescue)[1] == "Rescued"
    assert report_event(rescue, Facts("rescue", True))[:2] == ("Warning", "Silent")
    assert report_event(Facts("rescue", True), rescue)[1] == "Audible"
    assert report_event(rescue, browser)[1] == "AudioSource"
