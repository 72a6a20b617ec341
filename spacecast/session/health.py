"""/metrics for Prometheus, /healthz and /readyz for Kubernetes probes.

/healthz says the supervisor's loop is alive (it stamps a heartbeat every tick). /readyz says the
cast is delivering media: the Space is running, the encoder's output is advancing (its last FLV
tag is younger than the readiness window) and at least one destination is publishing.

Silence is not unreadiness. A pause in the talk, or a camera Space whose audio is not yet
rescued, still pushes picture and silent audio; a probe that failed on silence would flip the
cast between Live and Starting whenever people stop speaking, and an alert on "silent while
Live" could never fire. Silence is reported instead, by the metrics (the level, how long it has
been silent, which path feeds the audio) and in /readyz's body, and that is what alerts and the
SpaceCast's conditions stand on. Both endpoints answer JSON with their reasons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spacecast.session import metrics

HEARTBEAT_STALE_S = 30.0
READY_MEANS = (
    "media is flowing: the Space runs, the encoder's output advances, a destination publishes; "
    "silence does not make a cast unready (see spacecast_silence_seconds)"
)


@dataclass(frozen=True)
class Vitals:
    space_running: bool
    publishing: int  # destinations publishing now
    output_age: float | None  # seconds since the encoder's last output; None: none yet
    silent_for: float  # seconds the sink has been below the silence threshold (reported only)


def readiness(v: Vitals, *, window_s: float) -> list[str]:
    """Why the cast is not delivering media; empty when it is (a pure function). Silence is
    deliberately not a reason: see the module's docstring."""
    reasons = []
    if not v.space_running:
        reasons.append("the Space is not running")
    if v.output_age is None:
        reasons.append("the encoder has produced no output yet")
    elif v.output_age > window_s:
        reasons.append(f"the encoder's output stalled {v.output_age:.0f} s ago")
    if v.publishing == 0:
        reasons.append("no destination is publishing")
    return reasons


@dataclass
class Health:
    heartbeat: float = field(default_factory=time.monotonic)
    not_ready: list[str] = field(default_factory=lambda: ["starting"])
    silent_for: float = 0.0

    def beat(self, vitals: Vitals, not_ready: list[str]) -> None:
        self.heartbeat = time.monotonic()
        self.not_ready, self.silent_for = not_ready, vitals.silent_for
        metrics.READY.set(0 if not_ready else 1)
        metrics.SILENCE_SECONDS.set(round(vitals.silent_for, 1))
        if vitals.output_age is not None:
            metrics.ENCODER_OUTPUT_AGE.set(round(vitals.output_age, 1))


HEALTH = web.AppKey("health", Health)


async def metrics_route(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    age = time.monotonic() - request.app[HEALTH].heartbeat
    return web.json_response(
        {"alive": age < HEARTBEAT_STALE_S, "heartbeat_age_s": round(age, 1)},
        status=200 if age < HEARTBEAT_STALE_S else 503,
    )


async def readyz(request: web.Request) -> web.Response:
    health = request.app[HEALTH]
    reasons = health.not_ready
    body = {
        "ready": not reasons,
        "reasons": reasons,
        "means": READY_MEANS,
        "silent_for_s": round(health.silent_for, 1),
    }
    return web.json_response(body, status=503 if reasons else 200)


async def serve(health: Health, host: str, port: int) -> web.AppRunner:
    app = web.Application()
    app[HEALTH] = health
    app.add_routes(
        [
            web.get("/metrics", metrics_route),
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
