"""Kubeconfig files: one per identity, all pointing at the same apiserver."""

from __future__ import annotations

from pathlib import Path

import yaml

from devcluster.certs import KeyPair

CONTEXT = "spacecast-dev"


def write(path: Path, server: str, ca: Path, client: KeyPair, user: str = "admin") -> Path:
    """A kubeconfig with a single context, using file references (not inlined data)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CONTEXT, "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(client.cert),
                    "client-key": str(client.key),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}],
        "current-context": CONTEXT,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
