"""The chart's alerts (templates/prometheusrule.yaml): Prometheus's own promtool checks them and
runs their unit tests (alerts.test.yaml: each alert fires on a cast that should page, and stays
quiet on the casts beside it); each has its summary, description and runbook; and every series
and label they use is one the session or the controller defines, or that the monitors add."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devcluster import binaries
from tests.monitoring.promql import undefined

from .test_chart import spec_of

pytestmark = [pytest.mark.slow]
UNIT_TESTS = Path(__file__).with_name("alerts.test.yaml")
RUNBOOKS = Path(__file__).resolve().parents[2] / "docs/runbooks"
ON = ["--set", "monitoring.prometheusRule.enabled=true",
      "--set", "monitoring.serviceMonitor.enabled=true"]  # fmt: skip


def rules(*values: str) -> dict[str, Any]:
    """The rule groups of the chart's PrometheusRule (release and namespace `spacecast`, as
    alerts.test.yaml expects), as Prometheus reads them from a rules file."""
    return spec_of("prometheusrule", "spacecast", *ON, *values, release="spacecast")


def alerts(groups: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in groups["groups"] for rule in group["rules"]]


def promtool(*args: str, cwd: Path) -> None:
    tool = str(binaries.locate().path("promtool"))
    done = subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_checks_the_rules_and_passes_their_unit_tests(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    shutil.copy(UNIT_TESTS, tmp_path)
    promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fires, quiet = set(), set()
    for group in tests:
        casts = {s["series"] for s in group["input_series"]}
        for case in group["alert_rule_test"]:
            if case["exp_alerts"]:
                fires.add(case["alertname"])
                paged = {a["exp_labels"].get("spacecast") for a in case["exp_alerts"]}
                if any(f'spacecast="{c}"' not in s for s in casts for c in paged):
                    quiet.add(case["alertname"])  # a cast beside it that must not page
            else:
                quiet.add(case["alertname"])
    names = {rule["alert"] for rule in alerts(rules())}
    assert names - fires == set(), "alerts never seen firing"
    assert names - quiet == set(), "alerts never seen staying quiet"


def test_every_alert_says_what_and_links_its_runbook() -> None:
    for rule in alerts(rules()):
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        page = RUNBOOKS / f"{rule['alert']}.md"
        assert notes["runbook_url"].endswith(f"/docs/runbooks/{page.name}"), rule["alert"]
        assert page.is_file(), f"no runbook {page}"
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}


def test_the_controllers_alerts_come_with_its_service_monitor() -> None:
    """Without it there is no `up` for its job, and ControllerDown would fire for ever."""
    groups = spec_of("prometheusrule", "spacecast", "--set",
                     "monitoring.prometheusRule.enabled=true")["groups"]  # fmt: skip
    assert [g["name"] for g in groups] == ["spacecast.sessions"]


def test_every_alert_waits_for_a_value() -> None:
    values = yaml.safe_load((Path(__file__).resolve().parents[2] /
                             "helm/spacecast/values.yaml").read_text())  # fmt: skip
    waits = values["monitoring"]["prometheusRule"]["for"]
    assert sorted(rule["for"] for rule in alerts(rules())) == sorted(waits.values())


def test_every_for_is_a_value() -> None:
    short = ["--set", "monitoring.prometheusRule.for.silent=7s",
             "--set", "monitoring.prometheusRule.for.silentBitrate=9s"]  # fmt: skip
    by_name = {rule["alert"]: rule for rule in alerts(rules(*short))}
    assert by_name["SpaceCastSilent"]["for"] == "7s"
    assert by_name["SpaceCastSilentBitrate"]["for"] == "9s"


def test_every_series_and_label_the_alerts_use_is_defined() -> None:
    for rule in alerts(rules()):
        texts = [rule["expr"], *rule["annotations"].values()]
        assert undefined(rule["expr"], texts) == [], rule["alert"]
