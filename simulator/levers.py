"""Who may pull the simulator's levers (POST /_sim/...): anyone on this machine, and from
anywhere else only with the lever token. Off loopback the levers are an open door otherwise:
anyone who reaches the simulator could end Spaces, jump its clock or break the ingest's path.

The token comes from a file (`--lever-token-file`, a mounted Secret in a cluster), never a flag
or a variable, and is compared in constant time. Listening beyond loopback without one is
refused at start (simulator/settings.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from simulator.settings import is_loopback
from simulator.state import SIM

__all__ = ["guard", "is_loopback", "read_token"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def read_token(path: str) -> str:
    """The token, stripped; ValueError when it cannot serve as one."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"lever token file {path}: {type(exc).__name__}") from None
    if len(token) < 16:
        raise ValueError(f"lever token file {path}: a token needs at least 16 characters")
    return token


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    lever = request.method == "POST" and request.path.startswith("/_sim/")
    if lever and not is_loopback(request.remote):
        token = request.app[SIM].lever_token
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            raise web.HTTPUnauthorized(text="the simulator's levers need its token\n")
    return await handler(request)
