# mypy: ignore-errors
"""The reference for `make bench-controller`: a minimal kopf operator doing the controller's job
(one pod per SpaceCast, the status from the pod), as a kopf user would write it. It runs in a
virtualenv of its own (bench/envs/kopf), with kopf's defaults, except that it is told to watch
one namespace (`kopf run --namespace`, as the benchmark's controller is).

The pod is the benchmark's template (the same one our controller renders for the same cast),
named `<cast>-0` and adopted by the cast, as ours. Status: Live once the pod is Ready.
"""

import copy
import json
import os
from pathlib import Path

import kopf
import kubernetes

TEMPLATE = json.loads(Path(os.environ["BENCH_POD_TEMPLATE"]).read_text())
LABEL = {"app.kubernetes.io/managed-by": "kopf-bench"}
kubernetes.config.load_kube_config()
client = kubernetes.client.ApiClient()
client.user_agent = "kopf-bench"  # kopf's own calls say "kopf/...": the audit counts both
core = kubernetes.client.CoreV1Api(client)
custom = kubernetes.client.CustomObjectsApi(client)


@kopf.on.create("spacecast.dev", "v1alpha1", "spacecasts")
def create(body, name, namespace, **_):
    pod = copy.deepcopy(TEMPLATE)
    pod["metadata"] = {"name": f"{name}-0", "labels": dict(LABEL)}
    kopf.adopt(pod, owner=body)
    core.create_namespaced_pod(namespace, pod)
    return {"pod": pod["metadata"]["name"]}


@kopf.on.field("", "v1", "pods", field="status.conditions", labels=LABEL)
def pod_conditions(new, body, namespace, **_):
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in new or [])
    owner = body["metadata"]["ownerReferences"][0]["name"]
    custom.patch_namespaced_custom_object_status(
        "spacecast.dev",
        "v1alpha1",
        namespace,
        "spacecasts",
        owner,
        {"status": {"phase": "Live" if ready else "Starting"}},
    )
