"""The SpaceCast API on the real apiserver: the committed CRD is the model's, defaults apply,
and every rule rejects with its own message at its own field."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller import api, crd
from controller.kube import Kube, KubeError
from controller.reconcile import cast_path
from devcluster.cluster import ControlPlane

from .conftest import cast_manifest, kubectl, make_cast

CRD_FILE = Path(__file__).resolve().parents[2] / "helm/spacecast/crds/spacecast.dev_spacecasts.yaml"


def test_the_committed_crd_is_the_model() -> None:
    assert CRD_FILE.read_text() == crd.render(), (
        "helm/spacecast/crds/ is stale: run `uv run spacecast controller crd > "
        + str(CRD_FILE)
        + "`"
    )


def test_defaults_apply(kube: Kube, k8s_namespace: str) -> None:
    spec = make_cast(kube, k8s_namespace, "defaults")["spec"]
    assert spec["video"] == {"width": 1280, "height": 720, "fps": 30, "maxKbps": 3000}
    assert spec["audio"] == {"source": "auto", "silenceDb": -60.0, "rescueAfterSeconds": 10.0}
    assert spec["limits"] == {"maxRestarts": 5} and spec["suspend"] is False


def _rejected(kube: Kube, namespace: str, **spec: Any) -> str:
    with pytest.raises(KubeError) as err:
        make_cast(kube, namespace, "bad", **spec)
    assert err.value.status == 422, err.value
    return err.value.message


def _dest(name: str, key: str = "url") -> dict[str, Any]:
    return {"secretRef": {"name": name, "key": key}}


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"destinations": []}, "spec.destinations", "give at least one destination"),
        ({"destinations": [_dest("a"), _dest("b"), _dest("a")]}, "spec.destinations",
         "each destination must name a different Secret key"),
        ({"video": {"width": 640, "height": 360, "crop": {"x": 600, "width": 100,
          "height": 100}}}, "spec.video.crop", "the crop must lie inside the frame"),
        ({"space": "https://evil.example/i/spaces/1AudioSpace01"}, "spec.space", "should match"),
        ({"video": {"fps": 240}}, "spec.video.fps", "less than or equal to 60"),
        ({"audio": {"source": "radio"}}, "spec.audio.source", "Unsupported value"),
        ({"destinations": [_dest("Not_A_Name")]}, "spec.destinations[0].secretRef.name",
         "should match"),
    ],
)  # fmt: skip
def test_invalid_specs_name_their_field(
    kube: Kube, k8s_namespace: str, spec: dict[str, Any], field: str, says: str
) -> None:
    message = _rejected(kube, k8s_namespace, **spec)
    assert field in message and says in message, message


def test_the_space_is_immutable(kube: Kube, k8s_namespace: str) -> None:
    make_cast(kube, k8s_namespace, "fixed")
    with pytest.raises(KubeError) as err:
        kube.request("PATCH", cast_path(k8s_namespace, "fixed"),
                     body={"spec": {"space": "1OtherSpace01"}},
                     content_type="application/merge-patch+json")  # fmt: skip
    assert err.value.status == 422 and "space is immutable" in err.value.message
    other = kube.request("PATCH", cast_path(k8s_namespace, "fixed"),
                         body={"spec": {"suspend": True}},
                         content_type="application/merge-patch+json")  # fmt: skip
    assert other["spec"]["suspend"] is True and other["metadata"]["generation"] == 2


def test_kubectl_applies_the_crd_and_prints_casts(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return kubectl(control_plane, *args)

    applied = run("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE.parent))
    assert applied.returncode == 0, applied.stderr
    make_cast(kube, k8s_namespace, "shown")
    out = run("get", "scast", "-n", k8s_namespace)
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0].split()
    assert header == ["NAME", "SPACE", "PHASE", "AUDIO", "RESTARTS", "AGE"]
    assert out.stdout.splitlines()[1].split()[:2] == ["shown", "1AudioSpace01"]


def test_status_is_a_subresource(kube: Kube, k8s_namespace: str) -> None:
    created = kube.request("POST", cast_path(k8s_namespace),
                           body=cast_manifest("sub") | {"status": {"phase": "Live"}})  # fmt: skip
    assert "status" not in created  # ignored on the main resource


@pytest.mark.parametrize(("example", "secret"), [("spacecast.yaml", "periscope-ingest"),
                                                  ("trial.yaml", "trial")])  # fmt: skip
def test_the_examples_are_accepted(
    kube: Kube, k8s_namespace: str, example: str, secret: str
) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / example
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] == "SpaceCast":
            created = kube.request("POST", cast_path(k8s_namespace), body=doc)
            assert created["spec"]["destinations"][0]["secretRef"]["name"] == secret


def test_the_sessions_reports_name_this_api() -> None:
    """The session's reporter and the contract's fact keys name the SpaceCast API without
    importing the controller: they must agree with it."""
    from spacecast import contract
    from spacecast.session import report

    assert (report.API_VERSION, report.KIND) == (api.API_VERSION, api.KIND)
    assert contract.AUDIO_SOURCE_KEY.startswith(api.GROUP + "/")
