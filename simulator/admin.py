"""Routes for people and tests, under /_sim/: what is served, the CA, ground truth, what was
asked (`/_sim/requests`), and levers on the state machine (start, end, host drop, clock,
guest-token expiry) and on the network (`/_sim/outage`: simulator/outage.py;
`/_sim/ingest/fault`: simulator/faultproxy.py)."""

from __future__ import annotations

import hmac
import time
from typing import Any

from aiohttp import web

from simulator.faultproxy import Fault
from simulator.levers import is_loopback
from simulator.outage import Outage
from simulator.query import bounded
from simulator.state import SIM, Sim
from simulator.world import SpaceEntry


def describe(sim: Sim, entry: SpaceEntry, origin: str) -> dict[str, Any]:
    space, paths = entry.space, entry.paths
    now = sim.world.now()
    return {
        "id": space.id,
        "kind": space.kind,
        "title": space.title,
        "state": space.state(now).value,
        "media_key": space.media_key,
        "page": f"{origin}/i/spaces/{space.id}",
        "master": origin + (paths.video_master_live if space.kind == "camera" else paths.master),
        "dynamic": origin + (paths.video_master_live if space.kind == "camera" else paths.dynamic),
        "chunks_so_far": sim.world.complete_chunks(entry),
        "silent": space.silent_at(space.elapsed(now)),
    }


def _space(request: web.Request) -> tuple[Sim, SpaceEntry]:
    sim: Sim = request.app[SIM]
    entry = sim.world.by_id(request.match_info["space_id"])
    if entry is None:
        raise web.HTTPNotFound(text="no such Space\n")
    return sim, entry


async def index(request: web.Request) -> web.Response:
    sim: Sim = request.app[SIM]
    origin = sim.origin(request)
    return web.json_response(
        {
            "now": sim.world.now(),
            "spaces": [describe(sim, e, origin) for e in sim.world.entries.values()],
        }
    )


async def ca(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[SIM].ca_file)


def _number(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    """A query parameter within [low, high], or a 400 that names it (simulator/query.py)."""
    try:
        return bounded(dict(request.query), name, default, low, high)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None


def _whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    value = _number(request, name, default, low, high)
    if value != int(value):
        raise web.HTTPBadRequest(text=f"{name} must be a whole number\n")
    return int(value)


async def truth(request: web.Request) -> web.Response:
    """The Space's audio frames for chunks [from, to), with no tags: what a download must equal.
    Only chunks that exist: the body is never larger than the Space so far. A camera Space's
    `rendition` (0 is the best) has its own audio."""
    sim, entry = _space(request)
    done = sim.world.complete_chunks(entry)
    first = _whole(request, "from", 0, 0, done)
    last = _whole(request, "to", done, first, done)
    makers = entry.renditions or [entry.chunks]
    maker = makers[_whole(request, "rendition", 0, 0, len(makers) - 1)]
    body = b"".join(maker.audio(seq) for seq in range(first, last))
    return web.Response(body=body, content_type="audio/aac")


async def act(request: web.Request) -> web.Response:
    sim, entry = _space(request)
    action, now = request.match_info["action"], sim.world.now()
    if action == "start":
        entry.space.start(now)
    elif action == "end":
        entry.space.end(now)
    elif action == "disconnect":
        entry.space.disconnect_for(now, _number(request, "seconds", 30, 0, 3600))
    elif action == "silence":
        entry.space.fall_silent(now)
    elif action == "speak":
        entry.space.speak(now)
    else:
        raise web.HTTPNotFound()
    sim.world.restart_clock_for(entry)
    return web.json_response(describe(sim, entry, sim.origin(request)))


async def advance(request: web.Request) -> web.Response:
    """Move the simulator's clock forward (never back: a Space's timeline only grows)."""
    sim: Sim = request.app[SIM]
    sim.world.clock.advance(_number(request, "seconds", 0, 0, 7 * 86400))
    return web.json_response({"now": sim.world.now()})


async def ingest_publish(request: web.Request) -> web.Response:
    """nginx-rtmp's on_publish callback: 2xx lets the publish through, anything else refuses.
    Only our own nginx asks, from this machine: to anyone else it answers nothing about keys
    (no oracle for guessing them, token or not), and the check takes the same time whatever
    the guess."""
    if not is_loopback(request.remote):
        raise web.HTTPNotFound()
    keys = request.app[SIM].settings.ingest_keys
    name = str((await request.post()).get("name", "")).encode()
    known = [hmac.compare_digest(name, key.encode()) for key in keys]
    return web.Response(status=200 if not keys or any(known) else 403)


async def requests(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM].requests.as_json())


async def outage(request: web.Request) -> web.Response:
    """Start (or with seconds=0 end) an outage: simulator/outage.py."""
    sim: Sim = request.app[SIM]
    try:
        sim.outages.current = Outage.parse(dict(request.query))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    o = sim.outages.current
    return web.json_response({"scope": o.scope, "mode": o.mode, "rate": o.rate,
                              "seconds": round(o.until - time.monotonic(), 1),
                              "failed_so_far": sim.outages.served})  # fmt: skip


async def ingest_fault(request: web.Request) -> web.Response:
    """Set the fault on the path to the ingest: simulator/faultproxy.py."""
    proxy = request.app[SIM].ingest_proxy
    if proxy is None:
        raise web.HTTPConflict(text="no fault proxy: start the simulator with --ingest-proxy\n")
    try:
        proxy.set(Fault.parse(dict(request.query)))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    return web.json_response({"mode": proxy.fault.mode, "connections": proxy.connections})


async def expire_guest_tokens(request: web.Request) -> web.Response:
    request.app[SIM].guests.expire_all()
    return web.json_response({"expired": True})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/_sim/", index),
        web.get("/_sim/ca.pem", ca),
        web.get("/_sim/requests", requests),
        web.get("/_sim/spaces/{space_id}/truth.aac", truth),
        web.post("/_sim/spaces/{space_id}/{action}", act),
        web.post("/_sim/clock/advance", advance),
        web.post("/_sim/outage", outage),
        web.post("/_sim/ingest/fault", ingest_fault),
        web.post("/_sim/guest-tokens/expire", expire_guest_tokens),
        web.post("/_sim/ingest/publish", ingest_publish),
    ]
