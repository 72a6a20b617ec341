"""Settings shared by every component, read from the environment with the prefix SPACECAST_.

Each component derives its own settings class from `SpacecastSettings`; a field `foo_bar` is the
environment variable `SPACECAST_FOO_BAR` and, where the command exposes it, the flag `--foo-bar`
(see `spacecast.cli.add_settings_arguments`). A setting is defined once, here or in its
component's settings module, and referred to by name everywhere else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SPACECAST_"


class SpacecastSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


def env_name(settings: type[BaseSettings], field: str) -> str:
    """The environment variable of a settings field: its class's prefix, then its name."""
    return f"{settings.model_config.get('env_prefix', '')}{field.upper()}"


class LogSettings(SpacecastSettings):
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Minimum level of log lines."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="json when stderr is not a terminal, readable console lines otherwise."
    )


class XSettings(SpacecastSettings):
    """Where X lives. Point these at `spacecast simulate` to run the product without X."""

    x_base_url: str = Field(
        "https://x.com",
        description="Web origin: Space pages (/i/spaces/<id>) and the web API (/i/api/...).",
    )
    x_api_base_url: str = Field(
        "https://api.x.com",
        description="API origin: guest token activation (/1.1/guest/activate.json).",
    )
    x_ca_file: str | None = Field(
        None,
        description="Extra CA bundle to trust for X's hosts (the simulator prints its own).",
    )
    x_http2: bool = Field(
        True, description="Offer HTTP/2 to X's hosts, as browsers do (off: HTTP/1.1 only)."
    )


class DevClusterSettings(SpacecastSettings):
    """The local Kubernetes control plane (`spacecast dev-cluster`, the pytest fixtures)."""

    k8s_cache_dir: str | None = Field(
        None,
        description="Cache of built control-plane binaries (default ~/.cache/spacecast/k8s); "
        "devcluster/build.sh reads the same variable.",
    )
    cluster_nodes: int = Field(1, ge=0, description="Fake kwok nodes (0: no kwok).")
    cluster_controller_manager: bool = Field(
        True, description="Run kube-controller-manager (GC, namespaces, SA tokens)."
    )
    cluster_scheduler: bool = Field(True, description="Run kube-scheduler.")
    real_node: bool = Field(
        False,
        description="Also run a real node (a kubelet with Debian's containerd; needs root): "
        "pods really run, on a bridge of their own (devcluster/node.py).",
    )
    real_node_services: bool = Field(
        False,
        description="A real node (as --real-node) with a Service network: kube-proxy and "
        "CoreDNS (devcluster/service_network.py), so pods reach Services by address and name, "
        "as `helm install` needs. One node per machine may have one.",
    )
    cluster_build: bool = Field(
        False, description="Build the binaries first when they are missing (slow when cold)."
    )
