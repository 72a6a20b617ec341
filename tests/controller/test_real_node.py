"""SpaceCasts on the real node: `kubectl apply` of a cast and its Secrets gives a pod of the
session image that really casts, goes Live through its real readiness probe, comes back when
its pod is deleted, and ends Completed with the session's own summary; a bad stream key fails
for good; two casts on one node stay apart, each pod with its own display and sink."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import yaml

from controller import api
from controller.kube import JSON, Kube
from controller.run import Controller
from devcluster.cluster import ControlPlane
from devcluster.node_config import NODE_NAME
from simulator.server import Simulator
from tests.realnode import ingest_bytes, ingest_url, reachable_sim, recordings, x_env
from tests.session.conftest import (
    AUTH_TOKEN,
    CT0,
    STREAM_KEY,
    mean_volume,
    space_lever,
    tone_excess_db,
)
from tests.simulator.conftest import MakeSim
from tests.wait import wait_for

from .conftest import StartController, get_cast, kubectl, pods_of, scrape, wait_phase

pytestmark = [pytest.mark.real_node, pytest.mark.slow]

AUDIO, CAMERA = "1RealNodeAud1", "1RealNodeCam1"
OTHER_KEY = "live_0c4d2b9e77OTHERKEY"
SECRETS = (STREAM_KEY, OTHER_KEY, AUTH_TOKEN, CT0)


def manifests(name: str, space: str, url: str, **spec: object) -> list[JSON]:
    """A SpaceCast and its two Secrets, as a user writes them (examples/spacecast.yaml)."""
    cookies = json.dumps({"auth_token": AUTH_TOKEN, "ct0": CT0})
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-ingest"},
         "stringData": {"url": url}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-burner"},
         "stringData": {"cookies.json": cookies}},
        {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": {"name": name},
         "spec": {"space": space,
                  "destinations": [{"secretRef": {"name": f"{name}-ingest", "key": "url"}}],
                  "cookiesSecretRef": {"name": f"{name}-burner", "key": "cookies.json"},
                  **spec}},
    ]  # fmt: skip


def apply(cp: ControlPlane, namespace: str, docs: list[JSON], tmp_path: Path) -> None:
    path = tmp_path / f"{docs[-1]['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    done = kubectl(cp, "apply", "-n", namespace, "-f", str(path))
    assert done.returncode == 0, done.stderr


CastOnNode = Callable[..., Controller]


@pytest.fixture
def cast_on_node(
    control_plane: ControlPlane, controller: StartController, session_image: str
) -> CastOnNode:
    """Start the controller for casts of `sim`'s Spaces on the real node."""

    def start(sim: Simulator, **overrides: object) -> Controller:
        assert control_plane.node is not None
        return controller(
            session_image=session_image,
            # No token: the reporter cannot reach the apiserver from the node's pods (no
            # Service proxy here); the status learns the audio source from the summary.
            session_service_account="",
            session_env=x_env(sim, control_plane.node.gateway),
            restart_backoff_seconds=1.0,
            **overrides,
        )

    return start


@pytest.fixture
def audio_sim(make_sim: MakeSim, tmp_path: Path) -> Simulator:
    return reachable_sim(make_sim, tmp_path, f"kind=audio,id={AUDIO},start=-30,duration=0")


def print_usage(cp: ControlPlane, pod: JSON) -> None:
    """The session pod's CPU (over 10 s) and memory (working set: usage less inactive file
    pages, as the kubelet counts it), read from its cgroup, against its requests and limits:
    the README's figures."""
    assert cp.node is not None
    uid, root = pod["metadata"]["uid"], cp.node.layout.cgroup_root
    cpu = next(Path("/sys/fs/cgroup/cpuacct").glob(f"{root.lstrip('/')}/**/pod{uid}"))
    mem = next(Path("/sys/fs/cgroup/memory").glob(f"{root.lstrip('/')}/**/pod{uid}"))
    used = int((cpu / "cpuacct.usage").read_text())
    time.sleep(10)  # a measurement window, not a wait for anything
    cores = (int((cpu / "cpuacct.usage").read_text()) - used) / 10e9
    stat = dict(line.split() for line in (mem / "memory.stat").read_text().splitlines())
    working = int((mem / "memory.usage_in_bytes").read_text()) - int(stat["total_inactive_file"])
    resources = pod["spec"]["containers"][0]["resources"]
    print(f"session pod: {cores:.2f} cores, {working / 2**20:.0f} MiB working set; "
          f"requests {resources['requests']}, limits {resources['limits']}")  # fmt: skip


def test_a_spacecast_goes_live_comes_back_and_completes_on_the_real_node(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, cast_on_node: CastOnNode,
    audio_sim: Simulator, tmp_path: Path,
) -> None:  # fmt: skip
    node, sim = control_plane.node, audio_sim
    assert node is not None
    cast_on_node(sim)
    started = time.monotonic()
    apply(
        control_plane,
        k8s_namespace,
        manifests("townhall", AUDIO, ingest_url(sim, node.gateway, STREAM_KEY)),
        tmp_path,
    )
    wait_phase(kube, k8s_namespace, "townhall", "Live", 120)
    print(f"kubectl apply to Live: {time.monotonic() - started:.1f} s")
    assert ingest_bytes(sim, STREAM_KEY) > 0, "Live with nothing at the ingest"
    (pod,) = pods_of(kube, k8s_namespace, "townhall")
    assert pod["spec"]["nodeName"] == NODE_NAME

    seen = "\n".join([
        json.dumps(pod), json.dumps(get_cast(kube, k8s_namespace, "townhall")),
        kubectl(control_plane, "describe", "pod", "-n", k8s_namespace).stdout,
        kubectl(control_plane, "describe", "spacecast", "-n", k8s_namespace).stdout,
    ])  # fmt: skip
    assert "session" in seen and not [s for s in SECRETS if s in seen]

    wait_for("ten seconds on air", lambda: ingest_bytes(sim, STREAM_KEY) > 1_500_000, 60)
    print_usage(control_plane, pod)

    # A pod deleted under a live cast: the controller makes the next one, which goes Live.
    kube.request("DELETE", f"/api/v1/namespaces/{k8s_namespace}/pods/{pod['metadata']['name']}")
    wait_for(
        "the next pod",
        lambda: any(
            p["metadata"]["name"] != pod["metadata"]["name"]
            for p in pods_of(kube, k8s_namespace, "townhall")
        ),
        60,
    )
    again = wait_phase(kube, k8s_namespace, "townhall", "Live", 120)
    assert again["status"]["restarts"] == 1

    space_lever(sim, AUDIO, "end")
    done = wait_phase(kube, k8s_namespace, "townhall", "Completed", 90)["status"]
    assert (done["lastExitCode"], done["lastExitReason"]) == (0, "space_ended")
    assert done["message"] == "the Space ended"
    assert done["audioSource"] in ("browser", "rescue")  # a starved page hands over to the rescue


def test_a_bad_stream_key_fails_for_good_on_the_real_node(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, cast_on_node: CastOnNode,
    audio_sim: Simulator, tmp_path: Path,
) -> None:  # fmt: skip
    node, sim = control_plane.node, audio_sim
    assert node is not None
    ctl = cast_on_node(sim, resync_seconds=1.0)  # a pass every second: room to retry
    wrong = ingest_url(sim, node.gateway, "wrong_key_SECRETISH")
    apply(control_plane, k8s_namespace, manifests("badkey", AUDIO, wrong), tmp_path)
    failed = wait_phase(kube, k8s_namespace, "badkey", "Failed", 120)["status"]
    assert failed["lastExitCode"] == 30 and "publish rejected" in failed["message"]
    assert "wrong_key_SECRETISH" not in json.dumps(failed)

    # No retry: three more passes over the failed cast (resyncs) make no new pod.
    ok = "spacecast_controller_reconciles_total{result=ok}"
    passes = scrape(ctl)[ok]
    wait_for("three more reconciles", lambda: scrape(ctl)[ok] >= passes + 3, 30)
    assert len(pods_of(kube, k8s_namespace, "badkey")) == 1
    assert get_cast(kube, k8s_namespace, "badkey")["status"].get("restarts", 0) == 0


def tail(recording: Path, seconds: int) -> Path:
    """The recording's last `seconds` (so far) as WAV."""
    clip = recording.with_suffix(f".tail{seconds}.wav")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-sseof", f"-{seconds}",
                    "-i", str(recording), "-vn", str(clip)], check=True)  # fmt: skip
    return clip


def test_two_casts_on_one_node_each_hear_only_their_own_space(
    control_plane: ControlPlane, kube: Kube, k8s_namespace: str, cast_on_node: CastOnNode,
    make_sim: MakeSim, tmp_path: Path,
) -> None:  # fmt: skip
    """An audio Space and a camera Space at once on the same node: each pod has its own
    display and sink. The audio Space then falls silent while the camera Space speaks: its
    cast goes silent (with a shared sink it would carry the other's speech, and never would),
    and the camera cast's stays speech from rendition 0 (no rendition's tone)."""
    node = control_plane.node
    assert node is not None
    sim = reachable_sim(make_sim, tmp_path, f"kind=audio,id={AUDIO},start=-30,duration=0",
                        f"kind=camera,id={CAMERA},start=-30,duration=0",
                        ingest_keys=[STREAM_KEY, OTHER_KEY])  # fmt: skip
    cast_on_node(sim)
    apply(
        control_plane,
        k8s_namespace,
        manifests("audio", AUDIO, ingest_url(sim, node.gateway, STREAM_KEY)),
        tmp_path,
    )
    apply(control_plane, k8s_namespace,
          manifests("camera", CAMERA, ingest_url(sim, node.gateway, OTHER_KEY),
                    audio={"source": "hls"}), tmp_path)  # fmt: skip
    for name in ("audio", "camera"):
        wait_phase(kube, k8s_namespace, name, "Live", 150)

    # Live means pushing, not yet audible (the page's audio and the rescue start a moment
    # later): both casts speak first, or a cast that never spoke would pass for one gone quiet.
    def speaking(key: str) -> bool:
        return bool(recordings(sim, key)) and mean_volume(tail(recordings(sim, key)[-1], 3)) > -30

    for key in (STREAM_KEY, OTHER_KEY):
        wait_for(f"cast {key} to speak", partial(speaking, key), 90, every=2)

    space_lever(sim, AUDIO, "silence")

    # The page plays X's live audio some seconds behind its edge: wait for the silence there.
    def quiet() -> bool:
        return mean_volume(tail(recordings(sim, STREAM_KEY)[-1], 6)) < -50

    wait_for("the silent Space's cast to fall silent", quiet, 90, every=2)
    spoken = tail(recordings(sim, OTHER_KEY)[-1], 6)
    assert mean_volume(spoken) > -30, "the camera Space's cast went quiet with the other Space"
    assert tone_excess_db(spoken, 1000) < 10 and tone_excess_db(spoken, 1500) < 10
    space_lever(sim, AUDIO, "end")
    space_lever(sim, CAMERA, "end")
    ends = {n: wait_phase(kube, k8s_namespace, n, "Completed", 90)["status"]
            for n in ("audio", "camera")}  # fmt: skip
    assert ends["camera"]["audioSource"] == "rescue"  # the silent one may have tried it too
