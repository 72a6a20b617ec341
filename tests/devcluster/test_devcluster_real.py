"""Proof that the control plane is real: admission, scheduling, GC, watches, audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, watch

from devcluster.cluster import ControlPlane
from devcluster.processes import wait_until

pytestmark = pytest.mark.slow

GROUP, VERSION, PLURAL = "test.spacecast.dev", "v1", "widgets"
CEL_MESSAGE = "replicas must not exceed maxReplicas"


def _widget_crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "properties": {"replicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.maxReplicas", "message": CEL_MESSAGE}
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": spec_schema},
                        }
                    },
                }
            ],
        },
    }


def _install_crd(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    try:
        # The typed models accept a plain manifest: the client serializes dicts as they are.
        ext.create_custom_resource_definition(_widget_crd())  # type: ignore[arg-type]
    except client.ApiException as exc:
        if exc.status != 409:  # already there from an earlier test in this session
            raise

    def established() -> bool:
        status = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}").status
        conditions = (status and status.conditions) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    wait_until(established, timeout=30, what="CRD established")


def _widget(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "maxReplicas": 3},
    }


def test_cel_rule_rejects_a_bad_object_with_its_message(
    k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    _install_crd(k8s_api)
    custom = client.CustomObjectsApi(k8s_api)

    def create(name: str, replicas: int) -> bool:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, k8s_namespace, PLURAL, _widget(name, replicas)
        )
        return True

    # The first create can race discovery of the new type; retry until the type is served.
    wait_until(lambda: create("good", 2), timeout=30, what="Widget type served")
    with pytest.raises(client.ApiException) as rejected:
        create("bad", 5)
    assert rejected.value.status == 422
    assert CEL_MESSAGE in str(rejected.value.body)


def _bare_pod(name: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="example.invalid/app:1")]
        ),
    )


def _config_map(name: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))


def _list_rv(core: client.CoreV1Api, namespace: str) -> str:
    meta = core.list_namespaced_config_map(namespace).metadata
    assert meta is not None and meta.resource_version
    return str(meta.resource_version)


@pytest.mark.control_plane(full=True)
def test_bare_pod_is_bound_by_the_scheduler_and_run_by_kwok(
    k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_pod(k8s_namespace, _bare_pod("bare"))

    def node_and_phase() -> tuple[str | None, str | None]:
        pod = core.read_namespaced_pod("bare", k8s_namespace)
        assert pod.spec is not None and pod.status is not None
        return pod.spec.node_name, pod.status.phase

    wait_until(lambda: node_and_phase()[1] == "Running", timeout=60, what="pod Running")
    assert node_and_phase() == ("kwok-node-0", "Running")
    events = core.list_namespaced_event(k8s_namespace).items
    scheduled = [e for e in events if e.reason == "Scheduled"]
    assert scheduled and all(e.reporting_component == "default-scheduler" for e in scheduled)


def _watch_configmaps(
    api: client.ApiClient, namespace: str, resource_version: str
) -> Iterator[dict[str, Any]]:
    return watch.Watch().stream(  # type: ignore[no-any-return]
        client.CoreV1Api(api).list_namespaced_config_map,
        namespace,
        resource_version=resource_version,
        timeout_seconds=30,
        _request_timeout=60,
    )


def _next_added(events: Iterator[dict[str, Any]]) -> tuple[str, str]:
    for event in events:
        if event["type"] == "ADDED":
            meta = event["object"].metadata
            return meta.name, meta.resource_version
    raise AssertionError("watch ended without an ADDED event")


def _drain(events: Iterator[dict[str, Any]]) -> None:
    # A watch cut by the apiserver's exit ends, cleanly or with a protocol error.
    try:
        for _ in events:
            pass
    except Exception:
        pass


def _resume(core: client.CoreV1Api, namespace: str, last_rv: str) -> tuple[str, str | None]:
    """What an informer does after its watch broke: watch on from the last resourceVersion
    it saw; on 410 Gone, relist and take the new object from the list instead. Returns the
    new object's name and, after a relist, the list's resourceVersion (None otherwise)."""
    try:
        return _next_added(_watch_configmaps(core.api_client, namespace, last_rv))[0], None
    except client.ApiException as exc:
        if exc.status != 410:
            raise
    listed = core.list_namespaced_config_map(namespace)
    names = [cm.metadata.name for cm in listed.items if cm.metadata]
    assert listed.metadata is not None
    return str(next(n for n in names if n != "before")), str(listed.metadata.resource_version)


@pytest.mark.parametrize(
    "cache",
    [
        pytest.param("etcd", marks=pytest.mark.control_plane(watch_cache=False)),
        pytest.param("watch-cache"),
    ],
)
def test_watch_resumes_after_apiserver_restart(
    cache: str, control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    start_rv = _list_rv(core, k8s_namespace)
    core.create_namespaced_config_map(k8s_namespace, _config_map("before"))
    events = _watch_configmaps(k8s_api, k8s_namespace, start_rv)
    name, last_rv = _next_added(events)
    assert name == "before"

    control_plane.restart_apiserver()
    _drain(events)
    core.create_namespaced_config_map(k8s_namespace, _config_map("after"))
    name, list_rv = _resume(core, k8s_namespace, last_rv)
    assert name == "after"  # nothing lost, "before" not replayed
    if cache == "etcd":
        # Without the watch cache the watch is served by etcd's history: an exact resume.
        # With it, a restarted apiserver's cache starts at the current revision, so an older
        # resourceVersion may get 410 and the relist path above is what recovers.
        assert list_rv is None
    if list_rv is not None:  # the recovery is whole only once a watch runs again from the list
        events = _watch_configmaps(k8s_api, k8s_namespace, list_rv)
        core.create_namespaced_config_map(k8s_namespace, _config_map("later"))
        assert _next_added(events)[0] == "later"


def test_stopped_apiserver_refuses_then_serves_again(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    control_plane.stop_apiserver()
    with pytest.raises(Exception, match=r"(?i)connection refused|max retries"):
        core.read_namespace(k8s_namespace, _request_timeout=5)
    control_plane.start_apiserver()
    assert core.read_namespace(k8s_namespace).status.phase == "Active"  # type: ignore[union-attr]


@pytest.mark.control_plane(watch_cache=False)
def test_compaction_forces_watch_410(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    old_rv = _list_rv(core, k8s_namespace)
    # Two writes: etcd still serves a watch starting exactly at the compacted revision.
    for name in ("bump-1", "bump-2"):
        core.create_namespaced_config_map(k8s_namespace, _config_map(name))
    control_plane.compact_etcd()
    with pytest.raises(client.ApiException) as gone:
        next(iter(_watch_configmaps(k8s_api, k8s_namespace, old_rv)))
    assert gone.value.status == 410


def test_audit_log_counts_what_a_client_did(
    control_plane: ControlPlane, k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    mark = control_plane.audit.mark()
    k8s_api.user_agent = "audit-probe/1"
    core = client.CoreV1Api(k8s_api)
    for _ in range(3):
        core.list_namespaced_config_map(k8s_namespace)
    seen = control_plane.audit.wait_for_count(
        3, since=mark, user_agent="audit-probe/1", verb="list", resource="configmaps"
    )
    assert seen == 3
    events = [
        e for e in control_plane.audit.events(mark)
        if e.matches(user_agent="audit-probe/1", verb="list", resource="configmaps")
    ]  # fmt: skip
    assert {(e.user, e.namespace, e.code) for e in events} == {
        ("spacecast-admin", k8s_namespace, 200)
    }
