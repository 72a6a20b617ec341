"""The SpaceCast CRD, rendered from the pydantic models of `controller/api.py`.

`spacecast controller crd` prints it; `helm/spacecast/crds/` holds the committed copy, and a
test fails when the two differ. The spec's schema is pydantic's JSON schema made structural, as
the apiserver requires: references inlined, `Optional[X]` as plain X (absent means unset),
titles dropped, and `default: {}` on nested objects so their own defaults apply. The status
schema is written here: it is the controller's output, not the user's input.
"""

from __future__ import annotations

from typing import Any

import yaml

from controller import api

KEEP = {
    "type", "description", "default", "enum", "pattern", "minimum", "maximum", "maxLength",
    "minLength", "maxItems", "minItems", "required", "x-kubernetes-validations",
}  # fmt: skip


def structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """One JSON-schema node as an apiserver structural schema node."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return structural({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    if "anyOf" in node:  # Optional[X]: X, with the outer node's description and default
        (inner,) = [n for n in node["anyOf"] if n.get("type") != "null"]
        merged = {**inner, **{k: v for k, v in node.items() if k != "anyOf"}}
        return structural(merged, defs)
    out = {k: v for k, v in node.items() if k in KEEP and not (k == "default" and v is None)}
    if "properties" in node:
        out["properties"] = {k: structural(v, defs) for k, v in node["properties"].items()}
        out["type"] = "object"
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs)
    if "items" in node:
        out["items"] = structural(node["items"], defs)
    return out


def _default_nested_objects(schema: dict[str, Any], model_defaults: dict[str, Any]) -> None:
    for name, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and "properties" in sub and name in model_defaults:
            sub["default"] = {}


def spec_schema() -> dict[str, Any]:
    raw = api.SpaceCastSpec.model_json_schema(by_alias=True)
    schema = structural(raw, raw.get("$defs", {}))
    defaults = {
        f.alias or n: True
        for n, f in api.SpaceCastSpec.model_fields.items()
        if f.default_factory is not None
    }
    _default_nested_objects(schema, defaults)
    return schema


def _condition() -> dict[str, Any]:
    """metav1.Condition."""
    return {
        "type": "object",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": {"type": "string", "maxLength": 316},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "observedGeneration": {"type": "integer", "minimum": 0},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "reason": {"type": "string", "maxLength": 1024},
            "message": {"type": "string", "maxLength": 32768},
        },
    }


def status_schema() -> dict[str, Any]:
    time = {"type": "string", "format": "date-time"}
    return {
        "type": "object",
        "properties": {
            "phase": {
                "type": "string",
                "enum": list(api.PHASES),
            },
            "observedGeneration": {"type": "integer"},
            "conditions": {
                "type": "array",
                "items": _condition(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "podName": {"type": "string"},
            "startTime": time,
            "endTime": time,
            "restarts": {"type": "integer"},
            "lastExitCode": {"type": "integer"},
            "lastExitReason": {"type": "string"},
            "audioSource": {"type": "string"},
            "message": {"type": "string"},
        },
    }


PRINTER_COLUMNS = [
    {"name": "Space", "type": "string", "jsonPath": ".spec.space"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Audio", "type": "string", "jsonPath": ".status.audioSource"},
    {"name": "Restarts", "type": "integer", "jsonPath": ".status.restarts"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "Message",
        "type": "string",
        "jsonPath": ".status.message",
        "priority": 1,
    },
]


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{api.PLURAL}.{api.GROUP}"},
        "spec": {
            "group": api.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": api.KIND,
                "listKind": f"{api.KIND}List",
                "plural": api.PLURAL,
                "singular": api.SINGULAR,
                "shortNames": api.SHORT_NAMES,
            },
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = "# Generated by `spacecast controller crd` from controller/api.py: do not edit.\n"


class _Dumper(yaml.SafeDumper):
    """Shared sub-schemas written out in full (anchors in a CRD only confuse its readers), and
    YAML 1.1's booleans quoted: Go's YAML reads a bare `y` key (the crop's) as `true`."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "'" if text.lower() in {"y", "n", "yes", "no", "on", "off"} else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    return HEADER + yaml.dump(crd(), Dumper=_Dumper, sort_keys=False, width=100)
