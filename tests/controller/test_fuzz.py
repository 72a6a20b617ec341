"""Property-based specs against the real apiserver: whatever it accepts renders a pod it also
accepts (a dry run) and a decision that does not crash; whatever it rejects, it rejects with
the field named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller import pod, status
from controller.kube import Kube, KubeError
from controller.reconcile import cast_path
from controller.settings import ControllerSettings

SETTINGS = ControllerSettings(session_image="spacecast/session:test")
names = st.one_of(st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?", fullmatch=True),
                  st.text(max_size=12))  # fmt: skip
keys = st.one_of(st.from_regex(r"[-._a-zA-Z0-9]{1,20}", fullmatch=True), st.text(max_size=8))
ints = st.one_of(st.integers(-10, 5000), st.integers(-(2**40), 2**40))
dest = st.fixed_dictionaries({"secretRef": st.fixed_dictionaries({"name": names, "key": keys})})
crop = st.fixed_dictionaries({"x": ints, "y": ints, "width": ints, "height": ints})
specs = st.fixed_dictionaries(
    {
        "space": st.one_of(st.just("1AudioSpace01"),
                           st.just("https://x.com/i/spaces/1AudioSpace01/peek"), st.text()),
        "destinations": st.lists(dest, max_size=4),
    },
    optional={
        "video": st.fixed_dictionaries({}, optional={"width": ints, "height": ints, "fps": ints,
                                                      "maxKbps": ints, "crop": crop}),
        "audio": st.fixed_dictionaries({}, optional={
            "source": st.sampled_from(["auto", "browser", "hls", "radio"]),
            "silenceDb": st.floats(-200, 50, allow_nan=False),
            "rescueAfterSeconds": st.floats(-1, 1000, allow_nan=False)}),
        "limits": st.fixed_dictionaries({}, optional={"maxRestarts": ints,
                                                       "maxDurationSeconds": ints}),
        "suspend": st.booleans(),
        "cookiesSecretRef": st.fixed_dictionaries({"name": names, "key": keys}),
    },
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=specs)
def test_accepted_specs_run_and_rejected_ones_say_where(
    kube: Kube, k8s_namespace: str, spec: dict[str, Any]
) -> None:
    body = {"apiVersion": "spacecast.dev/v1alpha1", "kind": "SpaceCast",
            "metadata": {"generateName": "fuzz-"}, "spec": spec}  # fmt: skip
    try:
        cast = kube.request("POST", cast_path(k8s_namespace), body=body)
    except KubeError as exc:
        assert exc.status == 422 and "spec" in exc.message, exc
        return
    rendered = pod.desired_pod(cast, 0, SETTINGS)  # never InvalidCast for an admitted spec
    rendered["metadata"].pop("ownerReferences")
    kube.request("POST", f"/api/v1/namespaces/{k8s_namespace}/pods", {"dryRun": "All"},
                 body=rendered)  # fmt: skip
    secrets = {d["secretRef"]["name"]: {d["secretRef"]["key"]} for d in spec["destinations"]}
    status.decide(cast, [], secrets, datetime.now(UTC), SETTINGS)
