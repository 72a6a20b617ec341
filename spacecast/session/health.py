"""/metrics for Prometheus, /healthz and /readyz for Kubernetes probes.

/healthz says the supervisor's loop is alive (it stamps a heartbeat every tick); /readyz says the
cast is actually on air: publishing, with bitrate above a floor and audio above the silence
threshold over the readiness window. Both answer JSON with the reasons.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from spacecast.session import metrics

HEARTBEAT_STALE_S = 30.0


@dataclass(frozen=True)
class Vitals:
    publishing: int  # destinations publishing now
    bitrate_bps: float  # over the last few seconds
    silent_for: float  # seconds the sink has been below the silence threshold
    space_running: bool


def readiness(v: Vitals, *, min_bps: float, window_s: float) -> list[str]:
    """Why the cast is not ready; empty when it is (a pure function)."""
    reasons = []
    if not v.space_running:
        reasons.append("the Space is not running")
    if v.publishing == 0:
        reasons.append("no destination is publishing")
    if v.bitrate_bps < min_bps:
        reasons.append(f"bitrate {v.bitrate_bps / 1000:.0f} kbit/s is below {min_bps / 1000:.0f}")
    if v.silent_for >= window_s:
        reasons.append(f"silent for {v.silent_for:.0f} s")
    return reasons


@dataclass
class Health:
    heartbeat: float = field(default_factory=time.monotonic)
    not_ready: list[str] = field(default_factory=lambda: ["starting"])

    def beat(self, not_ready: list[str]) -> None:
        self.heartbeat = time.monotonic()
        self.not_ready = not_ready
        metrics.READY.set(0 if not_ready else 1)


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
    reasons = request.app[HEALTH].not_ready
    return web.json_response(
        {"ready": not reasons, "reasons": reasons}, status=503 if reasons else 200
    )


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
