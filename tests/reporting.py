"""The session's reporting account on a test's control plane: examples/session-account.yaml
applied as shipped, and a token for it (TokenRequest) in a file, as a pod would have it."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

from controller.kube import Kube
from devcluster.cluster import ControlPlane

ACCOUNT_FILE = Path(__file__).resolve().parents[1] / "examples/session-account.yaml"
PATHS = {
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
}


def session_account(kube: Kube, namespace: str, directory: Path) -> Path:
    """Apply the shipped account in `namespace`; returns its token's file (mode 0600)."""
    names = []
    for doc in yaml.safe_load_all(ACCOUNT_FILE.read_text()):
        kube.request("POST", PATHS[doc["kind"]].format(ns=namespace), body=doc)
        if doc["kind"] == "ServiceAccount":
            names.append(doc["metadata"]["name"])
    token = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{names[0]}/token",
        body={"spec": {"expirationSeconds": 3600}},
    )["status"]["token"]  # fmt: skip
    path = directory / "token"
    path.touch(mode=0o600)
    path.write_text(token)
    return path


def report_flags(cp: ControlPlane, namespace: str, cast: str, pod: str, token: Path) -> list[str]:
    """`spacecast session` flags that make it report about `namespace/cast` as `pod`."""
    return [
        "--report-cast", f"{namespace}/{cast}", "--report-cast-uid", "0000-1111",
        "--report-pod", pod, "--report-api", cp.server, "--report-token-file", str(token),
        "--report-ca-file", str(cp.pki.serving_ca),
    ]  # fmt: skip


def kube_as(cp: ControlPlane, token: Path, user_agent: str = "spacecast-session") -> Kube:
    """A client that holds only the token, as the session (or the controller's pod) does."""
    config = client.Configuration()
    config.host, config.ssl_ca_cert = cp.server, str(cp.pki.serving_ca)
    config.api_key = {"authorization": f"Bearer {token.read_text()}"}
    return Kube(client.ApiClient(config), user_agent=user_agent)
