"""A one-file container image as an OCI image-layout archive, built in memory: the real node's
pause image, and the kubectl image of its Service network, which cannot be pulled here.

The archive is a tar of the OCI image layout (image-spec v1.1 `image-layout.md`):
    oci-layout                 {"imageLayoutVersion": "1.0.0"}
    index.json                 one manifest, named by `io.containerd.image.name` (what
                               `ctr images import` names the image by) and the OCI ref name
    blobs/sha256/<digest>      the layer (an uncompressed tar holding the one file), the
                               image config (its entrypoint), the manifest
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A deterministic tar: fixed owners and times, so equal inputs give equal digests."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _descriptor(media_type: str, blob: bytes) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "size": len(blob),
    }


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def single_binary_image(name: str, binary: Path, entrypoint: str = "/pause") -> bytes:
    """The archive of an image named `name` whose only file is `binary`, at `entrypoint`."""
    layer = _tar({entrypoint.lstrip("/"): (binary.read_bytes(), 0o755)})
    config = _json({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": [entrypoint], "User": "65535:65535",
                   "Env": [f"PATH={Path(entrypoint).parent}"]},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    })  # fmt: skip
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": _descriptor(CONFIG, config),
        "layers": [_descriptor(LAYER, layer)],
    })  # fmt: skip
    tag = name.rsplit(":", 1)[-1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    names = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}
    index = _json({
        "schemaVersion": 2,
        "manifests": [_descriptor(MANIFEST, manifest) | {"annotations": names}],
    })  # fmt: skip
    blobs = {
        f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}": (blob, 0o644)
        for blob in (layer, config, manifest)
    }
    return _tar({
        "oci-layout": (_json({"imageLayoutVersion": "1.0.0"}), 0o644),
        "index.json": (index, 0o644),
        **blobs,
    })  # fmt: skip
