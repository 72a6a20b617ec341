"""The SpaceCast API: its names and its spec, as pydantic models that are the one source of the
CRD (`controller/crd.py` renders its schema from them) and of the controller's validation.

Field names are camelCase on the wire (the Kubernetes convention) and snake_case in Python.
Bounds here mirror `SessionSettings` where a field becomes a session setting, so anything the
apiserver admits renders a pod the session accepts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "spacecast.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SpaceCast"
PLURAL = "spacecasts"
SINGULAR = "spacecast"
SHORT_NAMES = ["scast"]

# status.phase, in the order a cast goes through them.
PHASES = ("Pending", "Starting", "Live", "Suspended", "Completed", "Failed")

# Labels and annotations the controller puts on its pods. A pod maps back to its cast by its
# controller ownerReference, never by a label: a cast's name may be longer than a label value.
ATTEMPT_LABEL = f"{GROUP}/attempt"  # 0 for the first pod, +1 for each re-creation
SPEC_HASH_ANNOTATION = f"{GROUP}/spec-hash"  # of the pod spec: a change means a new pod
MANAGED_BY = "spacecast-controller"

SPACE_PATTERN = (
    r"^(1[0-9A-Za-z]{12}|https://((www|mobile)\.)?(x|twitter)\.com/i/spaces/1[0-9A-Za-z]{12}"
    r"(/peek)?/?([?#][^\s]*)?)$"
)
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"  # a DNS subdomain
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"  # what a Secret's data keys may be


def cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    """One x-kubernetes-validations entry."""
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


class Wire(BaseModel):
    """camelCase on the wire; unknown fields are the apiserver's to prune, so none get here."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SecretKeyRef(Wire):
    """A key of a Secret in the SpaceCast's namespace."""

    name: str = Field(max_length=253, pattern=SECRET_NAME_PATTERN, description="The Secret.")
    key: str = Field(max_length=253, pattern=SECRET_KEY_PATTERN, description="Its key.")


class Destination(Wire):
    secret_ref: SecretKeyRef = Field(
        description="The key whose value is the rtmp:// or rtmps:// URL, stream key included."
    )


class Crop(Wire):
    x: int = Field(0, ge=0, le=3840)
    y: int = Field(0, ge=0, le=2160)
    width: int = Field(ge=16, le=3840)
    height: int = Field(ge=16, le=2160)


class Video(Wire):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.crop) || (self.crop.x + self.crop.width <= self.width && "
                    "self.crop.y + self.crop.height <= self.height)",
                    "the crop must lie inside the frame (x + width <= video.width, "
                    "y + height <= video.height)",
                    ".crop",
                )
            ]
        }
    )

    width: int = Field(1280, ge=160, le=3840, description="Frame width.")
    height: int = Field(720, ge=90, le=2160, description="Frame height.")
    fps: int = Field(30, ge=1, le=60, description="Frames per second.")
    max_kbps: int = Field(3000, ge=100, le=20000, description="Video bitrate cap (kbit/s).")
    crop: Crop | None = Field(None, description="Grab only this part of the page.")


class Audio(Wire):
    source: Literal["auto", "browser", "hls"] = Field(
        "auto",
        description="auto: the page's audio, rescued through HLS when it stays silent; browser: "
        "never rescue; hls: rescue as soon as the page listens.",
    )
    silence_db: float = Field(-60.0, ge=-120, le=0, description="Below this level is silence.")
    rescue_after_seconds: float = Field(
        10.0, ge=1, le=600, description="Silence this long engages the HLS rescue (auto)."
    )


class Limits(Wire):
    max_duration_seconds: int | None = Field(
        None, ge=60, le=7 * 24 * 3600, description="Stop the cast gracefully after this long."
    )
    max_restarts: int = Field(
        5, ge=0, le=100, description="New pods after transient failures before Failed."
    )


class Toleration(Wire):
    key: str | None = Field(None, max_length=316)
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = Field(None, max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class Resources(Wire):
    requests: dict[str, str] | None = Field(None, description="e.g. cpu: 600m, memory: 1Gi")
    limits: dict[str, str] | None = None


class PodOverrides(Wire):
    image: str | None = Field(None, max_length=512, description="The session image.")
    resources: Resources | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[Toleration] | None = Field(None, max_length=32)
    priority_class_name: str | None = Field(None, max_length=253)


class SpaceCastSpec(Wire):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("size(self.destinations) >= 1", "give at least one destination",
                    ".destinations"),
                cel(
                    "self.destinations.all(d, self.destinations.filter(e, "
                    "e.secretRef.name == d.secretRef.name && e.secretRef.key == d.secretRef.key)"
                    ".size() == 1)",
                    "each destination must name a different Secret key",
                    ".destinations",
                ),
            ]
        }
    )  # fmt: skip

    space: str = Field(
        max_length=200,
        pattern=SPACE_PATTERN,
        description="The Space: an x.com or twitter.com Space URL, or its id. Immutable.",
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self == oldSelf", "space is immutable: create another SpaceCast")
            ]
        },
    )
    cookies_secret_ref: SecretKeyRef | None = Field(
        None, description="The burner account's cookies (Netscape cookies.txt or JSON)."
    )
    destinations: list[Destination] = Field(max_length=16, description="Where to push.")
    video: Video = Field(default_factory=Video)
    audio: Audio = Field(default_factory=Audio)
    limits: Limits = Field(default_factory=Limits)
    suspend: bool = Field(False, description="Stop the cast without deleting it.")
    pod: PodOverrides = Field(default_factory=PodOverrides)


def parse_spec(cast: dict[str, Any]) -> SpaceCastSpec:
    """The spec of a SpaceCast as the apiserver stored it (defaults applied)."""
    return SpaceCastSpec.model_validate(cast.get("spec") or {})


def cast_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"
