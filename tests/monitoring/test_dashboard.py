"""The Grafana dashboard (monitoring/dashboard.py): the chart ships exactly what the code builds,
and every panel queries the dashboard's Prometheus, for the casts its variables pick."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitoring.dashboard import build, panels, queries
from tests.monitoring.promql import undefined

COMMITTED = Path(__file__).resolve().parents[2] / "helm/spacecast/dashboards/spacecast.json"
REGENERATE = "uv run python -m monitoring.dashboard > helm/spacecast/dashboards/spacecast.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return build()


def variable(dashboard: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = {v["name"]: v for v in dashboard["templating"]["list"]}[name]
    return found


def test_the_committed_file_is_what_the_code_builds(dashboard: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == dashboard, f"{COMMITTED.name} is stale: regenerate it with `{REGENERATE}`"


def test_the_dashboard_is_found_by_its_uid_title_and_tag(dashboard: dict[str, Any]) -> None:
    assert (dashboard["uid"], dashboard["title"], dashboard["tags"]) == (
        "spacecast",
        "spacecast",
        ["spacecast"],
    )
    assert dashboard["refresh"] == "30s"
    assert dashboard["time"]["from"] == "now-3h"


def test_every_panel_queries_the_chosen_prometheus(dashboard: dict[str, Any]) -> None:
    found = panels(dashboard)
    assert len(found) >= 10
    for panel in found:
        assert panel.get("title"), panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        exprs = [target.get("expr", "").strip() for target in panel.get("targets", [])]
        assert exprs and all(exprs), f"{panel['title']} has a target without a query"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_variables_pick_a_prometheus_then_namespaces_then_casts(
    dashboard: dict[str, Any],
) -> None:
    assert [v["name"] for v in dashboard["templating"]["list"]] == [
        "datasource",
        "namespace",
        "spacecast",
    ]
    source = variable(dashboard, "datasource")
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    expected = {
        "namespace": "label_values(spacecast_uptime_seconds, namespace)",
        "spacecast": 'label_values(spacecast_uptime_seconds{namespace=~"$namespace"}, spacecast)',
    }
    for name, query in expected.items():
        picked = variable(dashboard, name)
        assert (picked["type"], picked["query"]) == ("query", query)
        assert picked["datasource"]["uid"] == "${datasource}"
        # All as `.*`, not Grafana's list of the values it knew: a cast started since is shown.
        assert (picked["multi"], picked["includeAll"], picked["allValue"]) == (True, True, ".*")


def test_per_cast_panels_follow_the_variables(dashboard: dict[str, Any]) -> None:
    session = [e for e in queries(dashboard) if "spacecast_controller_" not in e]
    assert session
    for expr in session:
        assert 'namespace=~"$namespace", spacecast=~"$spacecast"' in expr, expr


def test_queries_reach_into_collapsed_rows() -> None:
    target = {"expr": "up", "refId": "A"}
    nested = {"panels": [{"type": "row", "panels": [{"type": "stat", "targets": [target]}]}]}
    assert queries(nested) == ["up"]


def test_every_series_and_label_the_panels_use_is_defined(dashboard: dict[str, Any]) -> None:
    for panel in panels(dashboard):
        for target in panel["targets"]:
            legend = [target["legendFormat"]] if target.get("legendFormat") else []
            assert undefined(target["expr"], legend) == [], panel["title"]
