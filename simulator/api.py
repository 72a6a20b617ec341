"""X's API routes: guest activation, AudioSpaceById (GraphQL), live_video_stream/status, and
the avatar_content lookup monitors use. Served under both `/i/api/...` (x.com) and `/...`
(api.x.com)."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from simulator import graphql, responses
from simulator.auth import Caller, Denied, authenticate, bearer_ok
from simulator.model import SPACE_ID_PATTERN, SpaceState
from simulator.ratelimit import RATE_LIMITED
from simulator.state import SIM, Sim
from simulator.world import SpaceEntry

API_PREFIXES = ("", "/i/api")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        body, status=status, headers=headers, dumps=lambda o: json.dumps(o, separators=(",", ":"))
    )


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


def _gate(
    request: web.Request, endpoint: str
) -> tuple[Caller | None, web.Response | None, dict[str, str]]:
    """Authenticate and rate-limit one API call; return the caller or the refusal to send."""
    sim: Sim = request.app[SIM]
    settings, now = sim.settings, sim.world.now()
    if settings.require_transaction_id and not request.headers.get("x-client-transaction-id"):
        return None, web.Response(status=404), {}
    who = authenticate(
        request.headers,
        request.cookies,
        now=now,
        guests=sim.guests,
        guest_enabled=settings.guest_enabled,
        valid_auth_tokens=settings.valid_auth_tokens,
    )
    key = who.who if isinstance(who, Caller) else _client(request)
    verdict = sim.limiter.check(key, endpoint, now)
    if not verdict.allowed:
        return None, _json(RATE_LIMITED, 429, verdict.headers), verdict.headers
    if isinstance(who, Denied):
        return None, _json(who.body, who.status, verdict.headers), verdict.headers
    return who, None, verdict.headers


async def guest_activate(request: web.Request) -> web.Response:
    sim: Sim = request.app[SIM]
    if not bearer_ok(request.headers):
        return _json(responses.rest_error(32, "Could not authenticate you."), 401)
    now = sim.world.now()
    if not sim.activations.check(_client(request), "activate", now).allowed:
        return _json(responses.rest_error(88, "Rate limit exceeded."), 429)
    return _json({"guest_token": sim.guests.issue(now)})


def _parse_json_param(request: web.Request, name: str) -> dict[str, Any] | None:
    try:
        value = json.loads(request.query.get(name, "{}"))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


async def graphql_route(request: web.Request) -> web.Response:
    sim: Sim = request.app[SIM]
    qid, operation = request.match_info["qid"], request.match_info["operation"]
    if qid not in graphql.QUERY_IDS or graphql.QUERY_IDS[qid][0] != operation:
        return web.Response(status=404)
    _, refusal, headers = _gate(request, operation)
    if refusal:
        return refusal
    variables, features = (
        _parse_json_param(request, "variables"),
        _parse_json_param(request, "features"),
    )
    if variables is None or features is None:
        return _json(responses.graphql_error(214, "BadRequest: invalid variables"), 400, headers)
    missing = graphql.missing_features(qid, features)
    if missing:
        message = "The following features cannot be null: " + ", ".join(missing)
        return _json(responses.graphql_error(336, message), 400, headers)
    field_name = "audio_space_id" if operation == graphql.AUDIOSPACE_BY_REST_ID else "id"
    space_id = str(variables.get(field_name, ""))
    if not re.match(SPACE_ID_PATTERN, space_id):
        body = responses.graphql_error(
            214,
            f"BadRequest: invalid broadcast_ids=[{space_id or 'no_id'}]",
            path=["audioSpace", "metadata"],
        )
        return _json(body, 200, headers)
    entry = sim.world.by_id(space_id)
    data = {} if entry is None else sim.audio_space_json(entry)
    key = "audio_space_by_rest_id" if operation == graphql.AUDIOSPACE_BY_REST_ID else "audioSpace"
    return _json({"data": {key: data}}, 200, headers)


def stream_location(sim: Sim, entry: SpaceEntry, origin: str) -> str | None:
    """Where `status` sends a client: the live playlist, the replay, or nowhere (404)."""
    state = entry.space.state(sim.world.now())
    paths = entry.paths
    if state is SpaceState.RUNNING:
        path = paths.video_master_live if entry.space.kind == "camera" else paths.dynamic
    elif state is SpaceState.ENDED and entry.space.replay:
        pid = sim.world.playlist_id(entry, "final")
        path = paths.video_master_replay(pid) if entry.space.kind == "camera" else paths.replay(pid)
    else:
        return None
    return origin + path


async def stream_status(request: web.Request) -> web.Response:
    sim: Sim = request.app[SIM]
    _, refusal, headers = _gate(request, "live_video_stream/status")
    if refusal:
        return refusal
    entry = sim.world.by_media_key(request.match_info["media_key"])
    location = entry and stream_location(sim, entry, sim.origin(request))
    if not location:
        return _json(responses.rest_error(34, "Sorry, that page does not exist."), 404, headers)
    return _json(responses.status(location), 200, headers)


async def avatar_content(request: web.Request) -> web.Response:
    sim: Sim = request.app[SIM]
    caller, refusal, headers = _gate(request, "avatar_content")
    if refusal:
        return refusal
    if caller is None or caller.kind != "user":
        return _json(responses.rest_error(200, "Forbidden."), 403, headers)
    wanted = set(request.query.get("user_ids", "").split(","))
    users: dict[str, Any] = {}
    now = sim.world.now()
    for entry in sim.world.entries.values():
        host_id = responses.creator(entry.space, False)["result"]["rest_id"]
        if host_id in wanted and entry.space.state(now) is SpaceState.RUNNING:
            users[host_id] = {
                "spaces": {
                    "live_content": {
                        "audiospace": {"broadcast_id": entry.space.id, "title": entry.space.title}
                    }
                }
            }
    return _json({"users": users, "refresh_delay_secs": 30 if users else 0}, 200, headers)


def routes() -> list[web.RouteDef]:
    out = []
    for prefix in API_PREFIXES:
        out += [
            web.post(f"{prefix}/1.1/guest/activate.json", guest_activate),
            web.get(f"{prefix}/graphql/{{qid}}/{{operation}}", graphql_route),
            web.get(f"{prefix}/1.1/live_video_stream/status/{{media_key}}", stream_status),
            web.get(f"{prefix}/fleets/v1/avatar_content", avatar_content),
        ]
    return out
