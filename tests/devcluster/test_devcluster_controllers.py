"""kube-controller-manager is really there: garbage collection, namespaces, service accounts.

This module picks its components by overriding the `control_plane_config` fixture (the
alternative to the `control_plane` marker); ClusterConfig.full() is the same config the
marker's full=True gives, so it shares that session cluster.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from devcluster.cluster import ClusterConfig, ControlPlane
from devcluster.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def control_plane_config() -> ClusterConfig:
    return ClusterConfig.full()


def _gone(read: Callable[..., object], *args: str) -> bool:
    try:
        read(*args)
    except client.ApiException as exc:
        return bool(exc.status == 404)
    return False


def test_components_chosen_by_fixture(control_plane: ControlPlane) -> None:
    assert set(control_plane.processes()) == {
        "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"
    }  # fmt: skip


def test_deleting_an_owner_garbage_collects_its_dependant(
    k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    owner = core.create_namespaced_config_map(
        k8s_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    assert owner.metadata is not None
    ref = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    dependant = client.V1ObjectMeta(name="dependant", owner_references=[ref])
    core.create_namespaced_config_map(k8s_namespace, client.V1ConfigMap(metadata=dependant))
    core.delete_namespaced_config_map("owner", k8s_namespace)
    wait_until(
        lambda: _gone(core.read_namespaced_config_map, "dependant", k8s_namespace),
        timeout=60,
        what="dependant garbage-collected",
    )


def test_new_namespace_gets_a_service_account_that_can_get_tokens(
    k8s_api: client.ApiClient, k8s_namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    wait_until(
        lambda: core.read_namespaced_service_account("default", k8s_namespace) is not None,
        timeout=30,
        what="default ServiceAccount",
    )
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    token = core.create_namespaced_service_account_token("default", k8s_namespace, request)
    assert token.status is not None
    assert (token.status.token or "").count(".") == 2  # a JWT signed with the fixture's key
    wait_until(
        lambda: core.read_namespaced_config_map("kube-root-ca.crt", k8s_namespace) is not None,
        timeout=30,
        what="kube-root-ca.crt published",
    )


def test_deleting_a_namespace_empties_and_removes_it(k8s_api: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s_api)
    name = "doomed-namespace"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="contents"))
    )
    core.delete_namespace(name)
    wait_until(lambda: _gone(core.read_namespace, name), timeout=60, what="namespace removed")
