"""pytest fixtures for tests against a real control plane.

    pytest_plugins = ["devcluster.pytest_plugin"]

    def test_x(control_plane, k8s_api, k8s_namespace): ...          # etcd + apiserver

    @pytest.mark.control_plane(full=True)                           # + kcm, scheduler, kwok
    def test_y(control_plane, k8s_api, k8s_namespace): ...

    @pytest.mark.real_node                                          # + a real kubelet node
    def test_z(control_plane, k8s_api, k8s_namespace): ...

Marker keywords are the fields of ClusterConfig (controller_manager, scheduler, kwok_nodes,
watch_cache) plus full=True; or override the `control_plane_config` fixture. Clusters are
session-scoped: one per distinct config, started the first time a test asks for it. Each
test gets a fresh namespace. A test that stopped the apiserver gets it restarted afterwards,
so one failed test cannot break the next.

Without the binaries, tests are skipped with the build command, except under CI (CI set),
where a missing build is an error. The real node's prerequisites (root, iproute2, a cgroup file
system; devcluster/node.py) follow SPACECAST_TEST_REAL_NODE: `require` (the default under CI)
fails a test when they are missing, `auto` (the default elsewhere) skips it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from devcluster import binaries, node
from devcluster.client import api_client
from devcluster.cluster import ClusterConfig, ControlPlane


class _Pool:
    """The session's clusters by config; a config that failed to start fails fast after."""

    def __init__(self) -> None:
        self.clusters: dict[ClusterConfig, ControlPlane] = {}
        self.failures: dict[ClusterConfig, BaseException] = {}

    def get(self, config: ClusterConfig) -> ControlPlane:
        if config in self.failures:
            raise RuntimeError(f"control plane {config} failed to start earlier") from (
                self.failures[config]
            )
        if config not in self.clusters:
            bins = _binaries()  # skips (not a start failure) when not built
            if config.real_node:
                check_real_node()
            try:
                self.clusters[config] = ControlPlane(config, bins).start()
            except BaseException as exc:
                self.failures[config] = exc
                raise
        return self.clusters[config]

    def stop_all(self) -> None:
        for cluster in self.clusters.values():
            cluster.stop()
        self.clusters.clear()


def _binaries() -> binaries.Binaries:
    try:
        return binaries.locate()
    except binaries.BinariesMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A real_node test without the prerequisites, whatever fixtures it uses (some start
    their own cluster): skipped or failed before it starts."""
    if item.get_closest_marker("real_node"):
        check_real_node()


def check_real_node() -> None:
    if missing := node.prerequisites():
        require_or_skip(f"a real node needs {'; '.join(missing)}")


def real_node_required() -> bool:
    """Whether a missing real-node prerequisite fails a test (rather than skipping it)."""
    default = "require" if os.environ.get("CI") else "auto"
    # Not SPACECAST_REAL_NODE: that is DevClusterSettings' --real-node, read from the same env.
    return os.environ.get("SPACECAST_TEST_REAL_NODE", default) == "require"


def require_or_skip(reason: str) -> None:
    """A real-node prerequisite is missing: fail under `require`, skip under `auto`."""
    if real_node_required():
        pytest.fail(f"{reason} (SPACECAST_TEST_REAL_NODE=require)", pytrace=False)
    pytest.skip(reason)


def _config_from(request: pytest.FixtureRequest) -> ClusterConfig:
    if request.node.get_closest_marker("real_node"):
        return ClusterConfig.with_real_node()
    marker = request.node.get_closest_marker("control_plane")
    kwargs = dict(marker.kwargs) if marker else {}
    if kwargs.pop("full", False):
        return ClusterConfig.full(nodes=kwargs.pop("kwok_nodes", 1))
    return ClusterConfig(**kwargs)


@pytest.fixture(scope="session")
def control_plane_pool() -> Iterator[_Pool]:
    pool = _Pool()
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def control_plane_config(request: pytest.FixtureRequest) -> ClusterConfig:
    """The components a test gets: from its `control_plane` marker, or override this
    fixture in a module or conftest (e.g. `return ClusterConfig.full()`)."""
    return _config_from(request)


@pytest.fixture
def control_plane(
    control_plane_config: ClusterConfig, control_plane_pool: _Pool
) -> Iterator[ControlPlane]:
    """The session's cluster for this test's config (default: etcd + kube-apiserver)."""
    cluster = control_plane_pool.get(control_plane_config)
    yield cluster
    _heal(cluster)


@pytest.fixture(scope="module")
def module_control_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """A cluster of the module's own, of its `MODULE_CLUSTER` config, stopped when the module
    ends rather than kept for the session: for a cluster that holds what the machine has one of
    (a real node's Service network) or that would weigh on the tests after it. A module uses it
    as its `control_plane` by overriding that fixture to return this one."""
    config: ClusterConfig = request.module.MODULE_CLUSTER
    bins = _binaries()
    if config.real_node:
        check_real_node()
    with ControlPlane(config, bins) as cluster:
        yield cluster


def _heal(cluster: ControlPlane) -> None:
    if not cluster.apiserver_running:  # the test stopped it (or it died): heal for the next
        cluster.start_apiserver()


@pytest.fixture
def k8s_api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """An admin ApiClient for the test's cluster."""
    with api_client(control_plane.kubeconfig) as api:
        yield api


@pytest.fixture
def k8s_namespace(
    request: pytest.FixtureRequest, control_plane: ControlPlane, k8s_api: client.ApiClient
) -> Iterator[str]:
    """A fresh namespace named after the test; deleted afterwards (without waiting)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{slug}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(k8s_api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    _heal(control_plane)  # runs before control_plane's teardown, so heal here first
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
