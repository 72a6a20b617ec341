"""spacecast's Grafana dashboard, built with Grafana's own typed builders (the
grafana-foundation-sdk, a dev dependency) rather than written as JSON by hand.

The Helm chart ships the result, helm/spacecast/dashboards/spacecast.json, in a ConfigMap that
Grafana's dashboard sidecar picks up (templates/dashboard.yaml). After a change here, regenerate
it with

    uv run python -m monitoring.dashboard > helm/spacecast/dashboards/spacecast.json

tests/monitoring checks that the committed file is what build() makes. Session series carry the
cast's `namespace` and `spacecast` (the PodMonitor's relabelings); the controller's are fleet-wide.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import common, prometheus, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    GraphDrawStyle,
    GraphTresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

Panel = timeseries.Panel | stat.Panel | statetimeline.Panel
AnyPanel = TypeVar("AnyPanel", timeseries.Panel, stat.Panel, statetimeline.Panel)

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
CAST = 'namespace=~"$namespace", spacecast=~"$spacecast"'
LEGEND = "{{namespace}}/{{spacecast}}"
PER_DESTINATION = LEGEND + " #{{destination}}"
# What the audio source panel shows for each state of the spacecast_audio_source Enum: a number
# to carry it through max(), then its name and colour back.
AUDIO_SOURCES = {"browser": (2, "green"), "rescue": (1, "orange"), "none": (0, "red")}


def select(metric: str, *matchers: str) -> str:
    """`metric` for the casts picked by the dashboard's variables."""
    return f"{metric}{{{', '.join([CAST, *matchers])}}}"


def query(expr: str, legend: str = LEGEND) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend)


def thresholds(*steps: tuple[float | None, str]) -> grafana.ThresholdsConfig:
    """Colours from each value up; the first step's value is None (from minus infinity)."""
    levels = [Threshold(value=value, color=color) for value, color in steps]
    return grafana.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(levels)


def states(**names: tuple[int, str]) -> list[ValueMapping]:
    """Show a number as the state it stands for (name=(number, colour))."""
    results = {str(n): ValueMappingResult(text=name, color=c) for name, (n, c) in names.items()}
    return [ValueMap(options=results)]


def panel(
    builder: AnyPanel, title: str, description: str, *targets: prometheus.Dataquery
) -> AnyPanel:
    """What every panel has: a title, what it shows, the dashboard's data source, its queries."""
    builder.title(title).description(description).datasource(DATASOURCE).span(12).height(8)
    for i, target in enumerate(targets):
        builder.with_target(target.ref_id(chr(ord("A") + i)))
    return builder


def graph(
    title: str, description: str, unit: str, *targets: prometheus.Dataquery
) -> timeseries.Panel:
    graphed = panel(timeseries.Panel(), title, description, *targets).unit(unit)
    return graphed.legend(named_series()).tooltip(every_series())


def timeline(title: str, description: str, target: prometheus.Dataquery) -> statetimeline.Panel:
    # Merged runs of one value read as "since when", which is what a state is about.
    return (
        panel(statetimeline.Panel(), title, description, target)
        .merge_values(True)
        .legend(named_series())
        .tooltip(every_series())
    )


def named_series() -> common.VizLegendOptions:
    """A legend below the chart: the SDK's default one is hidden."""
    legend = common.VizLegendOptions().show_legend(True)
    return legend.display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM)


def every_series() -> common.VizTooltipOptions:
    """A tooltip that compares the casts at one instant, highest first."""
    return common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING)


def cast_panels() -> list[Panel]:
    """One line (or row) per cast, for the casts the variables pick."""
    by_cast = "max by (namespace, spacecast)"  # one series per cast, across a pod's restart
    return [
        graph(
            "Push bitrate",
            "What the encoder pushes. X's speaker grid moves while people speak (1.3-1.6 Mbit/s); "
            "below 400 kbit/s (red) the picture stands still: a silent Space or a frozen page.",
            "bps",
            query(f"{by_cast} ({select('spacecast_push_bitrate_bits_per_second')})"),
        )
        # The alerts' default silentBitrateBps (values.yaml), drawn as a line over a red band.
        .thresholds(thresholds((None, "red"), (400_000, "green")))
        .thresholds_style(
            common.GraphThresholdsStyleConfig().mode(GraphTresholdsStyleMode.LINE_AND_AREA)
        ),
        graph(
            "Audio level",
            "The audio's level: speech is about -20 dBFS; silence sits at the -120 dBFS floor.",
            "dB",
            query(f"{by_cast} ({select('spacecast_audio_level_dbfs')})"),
        )
        .axis_soft_min(-60)
        .axis_soft_max(0),
        audio_source(),
        graph(
            "Encoder speed",
            "Encoding speed against real time: below 100% the encoder falls behind (short of CPU).",
            "percentunit",
            query(f"{by_cast} ({select('spacecast_encoder_speed_ratio')})"),
        )
        # The alerts' default encoderSpeedBelow (values.yaml).
        .thresholds(thresholds((None, "red"), (0.95, "green")))
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(GraphTresholdsStyleMode.DASHED)),
        graph(
            "Push fps",
            "Frames per second the encoder produces.",
            "fps",
            query(f"{by_cast} ({select('spacecast_push_fps')})"),
        ),
        graph(
            "Dropped and duplicated frames",
            "Frames a second the encoder drops (the picture stutters) or duplicates (its input "
            "comes too slowly).",
            "fps",
            query(per_second("spacecast_dropped_frames_total"), LEGEND + " dropped"),
            query(per_second("spacecast_duplicated_frames_total"), LEGEND + " duplicated"),
        ),
        *destination_panels(),
    ]


def per_second(counter: str) -> str:
    return f"sum by (namespace, spacecast) (rate({select(counter)}[$__rate_interval]))"


def destination_panels() -> list[Panel]:
    """Each RTMP destination of each cast, by its index in the cast's list."""
    by_destination = "by (namespace, spacecast, destination)"
    up = f"max {by_destination} ({select('spacecast_rtmp_destination_up')})"
    reconnects = f"increase({select('spacecast_rtmp_reconnects_total')}[$__rate_interval])"
    sent = f"rate({select('spacecast_rtmp_sent_bytes_total')}[$__rate_interval])"
    return [
        timeline(
            "Destinations up",
            "Whether each destination takes the stream.",
            query(up, PER_DESTINATION),
        )
        .mappings(states(down=(0, "red"), up=(1, "green")))
        .span(8),
        graph(
            "Destination reconnects",
            "Reconnects to each destination; each is a gap in the viewers' stream.",
            "short",
            # The session starts each destination's counter at 0 (so increase() sees the first).
            query(f"sum {by_destination} ({reconnects})", PER_DESTINATION),
        )
        .draw_style(GraphDrawStyle.BARS)
        .span(8),
        graph(
            "Destination throughput",
            "What each destination's server takes: far below the push bitrate, it is wedged.",
            "bps",
            query(f"8 * sum {by_destination} ({sent})", PER_DESTINATION),
        ).span(8),
    ]


def audio_source() -> statetimeline.Panel:
    # The Enum exports one 0/1 series per state: keep the state that is 1, as its number, so
    # max() leaves one series per cast (across a pod's restart) that names the state.
    states_as_numbers = " or ".join(
        f"{n} * ({audio_state(name)} == 1)" for name, (n, _) in AUDIO_SOURCES.items()
    )
    expr = f"max by (namespace, spacecast) ({states_as_numbers})"
    described = "Where the audio comes from: the browser, the Space's HLS audio (rescue), or none."
    return timeline("Audio source", described, query(expr)).mappings(states(**AUDIO_SOURCES))


def audio_state(name: str) -> str:
    return select("spacecast_audio_source", f'spacecast_audio_source="{name}"')


def fleet_panels() -> list[Panel]:
    """The controller's view. Both replicas export its gauges, so they are read with max()."""
    restarts = select("spacecast_controller_session_restarts_total")
    return [
        graph(
            "Casts by phase",
            "SpaceCasts in each phase.",
            "short",
            query("max by (phase) (spacecast_controller_casts)", "{{phase}}"),
        ),
        graph(
            "Capacity",
            "Session pods holding a slot against the limit (maxSessions; 0: no limit), and the "
            "casts Pending for a free slot.",
            "short",
            query("max(spacecast_controller_active_sessions)", "active sessions"),
            query("max(spacecast_controller_session_limit)", "session limit"),
            query("max(spacecast_controller_waiting_for_capacity)", "waiting for capacity"),
        ),
        panel(
            stat.Panel(),
            "Session restarts",
            "Session pods re-created after a transient failure, over the dashboard's time range.",
            # The controller starts each cast's counter at 0, on its first pass.
            query(f"sum by (namespace, spacecast) (increase({restarts}[$__range]))").instant(),
        )
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(BigValueGraphMode.NONE)
        .color_mode(BigValueColorMode.VALUE)
        .thresholds(thresholds((None, "green"), (1, "orange"))),
        graph(
            "Reconcile errors",
            "Failed reconcile passes a second: casts may not start, restart or report.",
            "ops",
            query(
                'sum(rate(spacecast_controller_reconciles_total{result="error"}[$__rate_interval]))',
                "errors",
            ),
        ),
    ]


def variables() -> list[grafana.QueryVariable | grafana.DatasourceVariable]:
    source = grafana.DatasourceVariable("datasource").label("Data source").type("prometheus")
    namespaces = "label_values(spacecast_uptime_seconds, namespace)"
    casts = 'label_values(spacecast_uptime_seconds{namespace=~"$namespace"}, spacecast)'
    return [
        source,
        pick("namespace", "Namespace", namespaces),
        pick("spacecast", "SpaceCast", casts),
    ]


def pick(name: str, label: str, values: str) -> grafana.QueryVariable:
    """A variable listing the label's values, any of them or all (`.*`, so new casts show)."""
    return (
        grafana.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(values)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(text="All", value="$__all"))
    )


def build() -> dict[str, Any]:
    """The dashboard's JSON model, as Grafana imports it."""
    board = (
        grafana.Dashboard("spacecast")
        .uid("spacecast")
        .tags(["spacecast"])
        .refresh("30s")
        .time("now-3h", "now")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        # Grafana adds its built-in annotation to a list; the SDK's default has none ({}).
        .annotations([])
    )
    for variable in variables():
        board.with_variable(variable)
    ids = itertools.count(1)  # Grafana wants each panel's id unique within the dashboard
    for title, panels in (("Casts", cast_panels()), ("Fleet", fleet_panels())):
        board.with_row(grafana.Row(title).id(next(ids)))
        for each in panels:
            board.with_panel(each.id(next(ids)))
    model: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return model


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but rows, those inside (collapsed) rows included."""
    found: list[dict[str, Any]] = []
    for each in dashboard.get("panels", []):
        found.extend(each.get("panels", []) if each["type"] == "row" else [each])
    return found


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every panel target's PromQL expression, e.g. to run each against a real Prometheus."""
    return [target["expr"] for each in panels(dashboard) for target in each.get("targets", [])]


def main() -> None:
    print(json.dumps(build(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
