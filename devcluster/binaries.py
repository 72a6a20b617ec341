"""Where the built control-plane binaries live, and how to get them built.

devcluster/build.sh owns the build; this module mirrors its cache layout
(<cache root>/<KUBERNETES_VERSION>/bin) so both agree on one directory.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from spacecast.settings import DevClusterSettings

PACKAGE_DIR = Path(__file__).resolve().parent
BUILD_SCRIPT = PACKAGE_DIR / "build.sh"
VERSIONS_FILE = PACKAGE_DIR / "versions.env"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubelet",
    "kube-proxy",
    "kwok",
    "helm",
    "kstatus",
    "kindconfig",
    "monitoring-crds.yaml",  # prometheus-operator's CRDs, for the chart's monitoring objects
    "prometheus",
    "promtool",
    # The real node (devcluster/node.py): its sandbox process and Debian's runtime, unpacked.
    "pause",
    "coredns",  # its cluster DNS (devcluster/service_network.py)
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
)
BUILD_COMMAND = "make k8s-binaries"


class BinariesMissing(RuntimeError):
    """The pinned binaries are not in the cache; the message says how to build them."""


def pinned_versions() -> dict[str, str]:
    """The KEY=VALUE pins of versions.env (the one place versions are written)."""
    pins = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pins[key.strip()] = value.strip()
    return pins


def cache_root(settings: DevClusterSettings | None = None) -> Path:
    settings = settings or DevClusterSettings()
    if settings.k8s_cache_dir:
        return Path(settings.k8s_cache_dir).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "spacecast" / "k8s"


@dataclass(frozen=True)
class Binaries:
    bin_dir: Path

    def path(self, name: str) -> Path:
        return self.bin_dir / name

    @property
    def kwok_stages(self) -> Path:
        return self.bin_dir / "kwok-stages.yaml"

    def missing(self) -> list[str]:
        names = [*BINARIES, self.kwok_stages.name, "cni/bridge"]  # cni: Debian's CNI plugins
        return [name for name in names if not (self.bin_dir / name).is_file()]


def locate(settings: DevClusterSettings | None = None) -> Binaries:
    """The binaries for the pinned version; raises BinariesMissing if any is absent."""
    version = pinned_versions()["KUBERNETES_VERSION"]
    binaries = Binaries(cache_root(settings) / version / "bin")
    missing = binaries.missing()
    if missing:
        raise BinariesMissing(
            f"control-plane binaries missing from {binaries.bin_dir}: {', '.join(missing)}; "
            f"build them with `{BUILD_COMMAND}` (tens of minutes the first time)"
        )
    return binaries


def build(settings: DevClusterSettings | None = None) -> Binaries:
    """Run the build script (a no-op when everything is cached) and locate the result."""
    env = dict(os.environ)
    env["SPACECAST_K8S_CACHE_DIR"] = str(cache_root(settings))
    subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, env=env)
    return locate(settings)
