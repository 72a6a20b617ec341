"""Which series and labels a PromQL expression names, against what spacecast defines: the
session's and the controller's metrics (their own label names), the labels the monitors add to
every target, and Prometheus's `up`.

Not a PromQL parser: the alerts and panels use selectors, aggregations with by/without and
binary operators with on/ignoring, and this reads those shapes. A name it cannot place is
reported, so a new shape fails loudly rather than passing unchecked.
"""

from __future__ import annotations

import functools
import re

from prometheus_client.metrics import MetricWrapperBase

from controller import metrics as controller_metrics
from spacecast.session import metrics as session_metrics

# What every scraped series also carries: the target's labels (the PodMonitor's relabeling
# adds `spacecast`; both monitors give namespace, pod, job, instance, container, endpoint).
TARGET_LABELS = frozenset({"namespace", "spacecast", "pod", "job", "instance", "container",
                           "endpoint"})  # fmt: skip
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
            "_created"), "gauge": ("",), "stateset": ("",), "info": ("_info",)}  # fmt: skip
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and",
                      "or", "unless", "bool", "offset", "inf", "nan"})  # fmt: skip
BRACES = re.compile(r"\{[^{}]*\}")
RANGES = re.compile(r"\[[^\]]*\]")
NAME = re.compile(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\(|\s*\{#\d+\})?")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
TEMPLATED = re.compile(r"\$labels\.(\w+)|\{\{\s*(\w+)\s*\}\}")


@functools.cache
def defined() -> dict[str, frozenset[str]]:
    """Every series name the code exposes, with the label names it carries."""
    out: dict[str, frozenset[str]] = {"up": frozenset()}
    for module in (session_metrics, controller_metrics):
        for metric in vars(module).values():
            if not isinstance(metric, MetricWrapperBase):
                continue
            (family,) = metric.describe()
            labels = set(metric._labelnames)
            if family.type == "stateset":
                labels.add(family.name)  # an Enum's state is a label named for it
            for suffix in SUFFIXES[family.type]:
                out[family.name + suffix] = frozenset(labels | ({"le"} if suffix == "_bucket"
                                                                else set()))  # fmt: skip
    return out


def undefined(expr: str, texts: list[str]) -> list[str]:
    """What `expr` (and the templates in `texts`: annotations, legends) names that nothing
    defines: series, labels in matchers, in by/on lists and in templates."""
    problems, known = [], defined()
    blocks = BRACES.findall(expr)
    bare = RANGES.sub("", BRACES.sub(lambda m: f"{{#{blocks.index(m[0])}}}", expr))
    bare = GROUPING.sub(" ", bare)  # `sum by (a) (x)` reads as `sum (x)`: a function
    used: set[str] = set()
    for name, after in NAME.findall(bare):
        if after.strip().startswith("(") or name in KEYWORDS:
            continue  # a function, an aggregation or a keyword
        if name not in known:
            problems.append(f"series {name}")
            continue
        used |= known[name]
        if after.strip().startswith("{#"):
            block = blocks[int(after.strip()[2:-1])]
            problems += [f"label {k} on {name}" for k in MATCHER.findall(block)
                         if k not in known[name] | TARGET_LABELS]  # fmt: skip
    labels = used | TARGET_LABELS
    for group in GROUPING.findall(expr):
        problems += [f"label {k} in by/on" for k in re.findall(r"\w+", group) if k not in labels]
    for text in texts:
        for a, b in TEMPLATED.findall(text):
            if (a or b) not in labels:
                problems.append(f"label {a or b} in {text!r}")
    return problems
