"""The checker the alert and dashboard tests stand on finds what it is meant to find."""

from __future__ import annotations

from tests.monitoring.promql import defined, undefined


def test_it_knows_the_code_s_series_and_their_labels() -> None:
    series = defined()
    assert series["spacecast_rtmp_reconnects_total"] == {"destination"}
    assert series["spacecast_audio_source"] == {"spacecast_audio_source"}
    assert "le" in series["spacecast_controller_reconcile_seconds_bucket"]
    assert "spacecast_rtmp_reconnects" not in series  # a counter is read with _total


def test_it_passes_what_is_defined() -> None:
    expr = ('sum by (namespace, spacecast) (rate(spacecast_rtmp_reconnects_total'
            '{destination="0", spacecast=~"$spacecast"}[5m])) > 0 and on(namespace) '
            'spacecast_ready == 1')  # fmt: skip
    assert undefined(expr, ["{{ $labels.spacecast }}", "{{destination}}"]) == []


def test_it_names_what_is_not() -> None:
    assert undefined("spacecast_push_bitrate > 0", []) == ["series spacecast_push_bitrate"]
    assert undefined('spacecast_ready{destination="0"}', []) == [
        "label destination on spacecast_ready"
    ]
    assert undefined("max by (phase) (spacecast_ready)", []) == ["label phase in by/on"]
    assert undefined("spacecast_ready", ["{{ $labels.cast }}"]) == [
        "label cast in '{{ $labels.cast }}'"
    ]
