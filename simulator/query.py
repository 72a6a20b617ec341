"""A lever's numeric parameter, bounded: one rule for every /_sim/ lever, so a NaN, an
infinity or a huge value is a 400 naming the parameter, never a broken simulator."""

from __future__ import annotations


def bounded(query: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    """`query[name]` as a number within [low, high]; ValueError (with the name) otherwise."""
    try:
        value = float(query.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be a number") from None
    if not low <= value <= high:  # NaN fails this too
        raise ValueError(f"{name} must be within {low:g}..{high:g}")
    return value
