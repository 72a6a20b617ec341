"""The simulator's live state, shared by its routes through the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulator import responses
from simulator.auth import GuestTokens
from simulator.camera import SegmentCache
from simulator.faultproxy import FaultProxy
from simulator.faults import Faults
from simulator.outage import Outages
from simulator.ratelimit import RateLimiter
from simulator.requests import RequestLog
from simulator.settings import SimulatorSettings
from simulator.world import SpaceEntry, World


@dataclass
class Listeners:
    """Who joined each Space from its page: named listeners are listed, anonymous ones counted."""

    named: dict[str, list[str]] = field(default_factory=dict)
    anonymous: dict[str, int] = field(default_factory=dict)

    def join(self, space_id: str, name: str | None) -> None:
        if name is None:
            self.anonymous[space_id] = self.anonymous.get(space_id, 0) + 1
        elif name not in self.named.setdefault(space_id, []):
            self.named[space_id].append(name)


class Sim:
    def __init__(self, settings: SimulatorSettings, world: World | None = None) -> None:
        self.settings = settings
        self.world = world or World(settings)
        self.guests = GuestTokens(settings.guest_token_ttl_s)
        self.limiter = RateLimiter(
            settings.api_rate_limit,
            settings.burst_429_every,
            settings.burst_429_length,
            settings.burst_429_reset_s,
        )
        self.activations = RateLimiter(settings.guest_activate_limit)
        self.listeners = Listeners()
        self.faults = Faults(settings)
        self.outages = Outages(settings.seed)
        self.ingest_proxy: FaultProxy | None = None  # with --ingest-proxy
        self.ingest_tls: FaultProxy | None = None  # with --ingest-tls: the RTMPS front
        self.lever_token = ""  # simulator/levers.py; read at start from --lever-token-file
        self.segments = SegmentCache()
        self.requests = RequestLog()
        self.ca_file: str = ""  # set once the server has made its certificate

    @staticmethod
    def origin(request: web.Request) -> str:
        """The scheme and host the client used, so HTTP callers get HTTP URLs and so on."""
        return f"{request.scheme}://{request.host}"

    def audio_space_json(self, entry: SpaceEntry) -> dict[str, Any]:
        space_id = entry.space.id
        return responses.audio_space(
            entry.space,
            self.world.now(),
            self.listeners.named.get(space_id, []),
            self.listeners.anonymous.get(space_id, 0),
            self.settings.omit_legacy_names,
        )


SIM = web.AppKey("sim", Sim)
