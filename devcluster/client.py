"""Small helpers over the official kubernetes client, bound to a kubeconfig file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client, config, utils

NOT_READY_TAINT = "node.kubernetes.io/not-ready"


@contextmanager
def api_client(kubeconfig: Path) -> Iterator[client.ApiClient]:
    """An ApiClient for this kubeconfig (never the user's ~/.kube/config), closed after."""
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield api
    finally:
        api.close()


def create_node(api: client.ApiClient, manifest: dict[str, Any]) -> None:
    # The typed API accepts a plain manifest: the client serializes dicts as they are.
    client.CoreV1Api(api).create_node(manifest)  # type: ignore[arg-type]


def node_schedulable(api: client.ApiClient, name: str, untainted: bool) -> bool:
    node = client.CoreV1Api(api).read_node(name)
    conditions = node.status.conditions if node.status else None
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions or [])
    taints = {t.key for t in (node.spec.taints if node.spec else None) or []}
    return ready and not (untainted and NOT_READY_TAINT in taints)


def delete_pods_on(api: client.ApiClient, node: str) -> None:
    """Delete every pod bound to `node` at once (no grace): the node is going away."""
    core = client.CoreV1Api(api)
    for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items:
        meta = pod.metadata
        if meta and meta.name and meta.namespace:
            with contextlib.suppress(client.ApiException):
                core.delete_namespaced_pod(meta.name, meta.namespace, grace_period_seconds=0)


def create_objects(api: client.ApiClient, manifests: list[dict[str, Any]]) -> None:
    """Create each object; one that exists already is left as it is."""
    for manifest in manifests:
        try:
            utils.create_from_dict(api, manifest)  # type: ignore[no-untyped-call]
        except utils.FailToCreateError as exc:
            if any(e.status != 409 for e in exc.api_exceptions):
                raise
