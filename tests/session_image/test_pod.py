"""The session image in a plain pod on the real node, as the controller renders it
(controller/pod.py): Secrets mounted as files, the probes, /dev/shm, the locked-down
securityContext and the termination message, all for real. It casts a simulated audio Space
to the ingest, turns Ready only once it pushes, and ends with its summary when the Space does.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from controller import api
from controller.kube import JSON, Kube
from controller.pod import desired_pod
from controller.settings import ControllerSettings
from devcluster.cluster import ControlPlane
from simulator.server import Simulator
from spacecast.contract import Summary
from tests.realnode import ingest_bytes, ingest_url, reachable_sim, x_env
from tests.session.conftest import (
    AUTH_TOKEN,
    CT0,
    STREAM_KEY,
    mean_volume,
    probe,
    space_lever,
)
from tests.simulator.conftest import MakeSim
from tests.wait import wait_for

pytestmark = [pytest.mark.real_node, pytest.mark.slow]

SPACE = "1RealNodeCast"


def session_pod(sim: Simulator, gateway: str, image: str, namespace: str, kube: Kube) -> JSON:
    """The pod the controller renders for a cast of SPACE, with its two Secrets created; no
    owner (a plain pod: nothing would own it, and the garbage collector would delete it)."""
    ingest = ingest_url(sim, gateway, STREAM_KEY)
    cookies = json.dumps({"auth_token": AUTH_TOKEN, "ct0": CT0})
    for name, key, value in (("ingest", "url", ingest), ("burner", "cookies.json", cookies)):
        secret = {"metadata": {"name": name}, "stringData": {key: value}}
        kube.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body=secret)
    settings = ControllerSettings(
        session_image=image,
        session_service_account="",  # no token: a plain pod reports nothing
        session_env=x_env(sim, gateway),
    )
    cast = {
        "apiVersion": api.API_VERSION, "kind": api.KIND,
        "metadata": {"name": "plain", "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": {"space": SPACE,
                 "destinations": [{"secretRef": {"name": "ingest", "key": "url"}}],
                 "cookiesSecretRef": {"name": "burner", "key": "cookies.json"}},
    }  # fmt: skip
    pod = desired_pod(cast, 0, settings)
    del pod["metadata"]["ownerReferences"]
    return pod


def is_ready(pod: JSON) -> bool:
    conditions = pod["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_a_pod_of_the_session_image_casts_and_ends_with_its_summary(
    control_plane: ControlPlane,
    k8s_api: client.ApiClient,
    k8s_namespace: str,
    session_image: str,
    make_sim: MakeSim,
    tmp_path: Path,
) -> None:
    node = control_plane.node
    assert node is not None
    sim = reachable_sim(make_sim, tmp_path, f"kind=audio,id={SPACE},start=-30,duration=0")
    assert sim.ingest is not None
    kube = Kube(k8s_api, user_agent="spacecast-tests")
    pod = session_pod(sim, node.gateway, session_image, k8s_namespace, kube)
    path = f"/api/v1/namespaces/{k8s_namespace}/pods"
    kube.request("POST", path, body=pod)
    path += f"/{pod['metadata']['name']}"

    def pushed_when_ready() -> int | None:
        """The bytes at the ingest at the moment the pod is first seen Ready."""
        if not is_ready(kube.request("GET", path)):
            return None
        return ingest_bytes(sim) or -1

    at_ready = wait_for("the session pod Ready", pushed_when_ready, 120, every=0.5)
    assert at_ready > 0, "Ready before the ingest had a byte: readiness must mean pushing"
    wait_for("10 s of cast at the ingest", lambda: ingest_bytes(sim) > 1_000_000, 60)

    space_lever(sim, SPACE, "end")

    def ended() -> JSON | None:
        pod = kube.request("GET", path)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    final = wait_for("the session pod to end with the Space", ended, 90)
    end = final["status"]["containerStatuses"][0]["state"]["terminated"]
    summary = Summary.parse(end.get("message", ""))
    assert summary is not None, f"no summary in the termination message: {end!r}"
    assert (final["status"]["phase"], end["exitCode"]) == ("Succeeded", 0)
    assert (summary.reason, summary.exit_code) == ("space_ended", 0)
    # A page starved for a few seconds (a loaded machine) hands the audio to the rescue: either
    # way the Space's speech is on air (the recording's level, below).
    assert summary.bytes_sent > 1_000_000 and summary.audio_source in ("browser", "rescue")

    recording = max(sim.ingest.recordings(), key=lambda p: p.stat().st_size)
    streams = {s["codec_type"]: s for s in probe(recording)["streams"]}
    video = streams["video"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
    assert mean_volume(recording) > -30
