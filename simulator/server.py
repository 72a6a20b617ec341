"""The simulator's HTTP and HTTPS server (aiohttp), for the CLI, tests, the demo and benchmarks.

`Simulator` runs inside an existing event loop; `ThreadedSimulator` runs one in a thread of its
own, for synchronous callers (pytest fixtures, subprocess-driven tests).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator import admin, api, cdn, levers, media, page, video
from simulator import outage as outage_mod
from simulator.cdn import Front
from simulator.clock import SimClock
from simulator.faultproxy import FaultProxy
from simulator.ingest import Ingest
from simulator.requests import Served
from simulator.settings import SimulatorSettings
from simulator.state import SIM, Sim
from simulator.tls import make_server_context
from simulator.world import World
from spacecast.logs import get_logger

log = get_logger("simulator")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def latency(request: web.Request, handler: Handler) -> web.StreamResponse:
    delay = request.app[SIM].settings.latency_ms
    if delay and not request.path.startswith("/_sim/"):
        await asyncio.sleep(delay / 1000)
    return await handler(request)


@web.middleware
async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim, arrived = request.app[SIM], request.app[SIM].world.now()
    status, reset = 500, None
    try:
        response = await handler(request)
        status, reset = response.status, response.headers.get("x-rate-limit-reset")
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if not request.path.startswith("/_sim/"):
            resource = request.match_info.route.resource
            sim.requests.add(
                Served(
                    at=arrived,
                    method=request.method,
                    path=request.path,
                    route=resource.canonical if resource else request.path,
                    status=status,
                    reset=float(reset) if reset else None,
                )
            )


@web.middleware
async def outages(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim: Sim = request.app[SIM]
    if (outage := sim.outages.hits(request.path)) is None:
        return await handler(request)
    sim.outages.served += 1
    return await outage_mod.fail(request, outage)


def build_app(sim: Sim) -> web.Application:
    # Behind the HTTP/2 front, the client is who the front says it is, for every other layer.
    front = [cdn.behind_front] if sim.settings.http2 else []
    app = web.Application(middlewares=[*front, levers.guard, count, outages, latency])
    app[SIM] = sim
    app.add_routes(api.routes() + media.routes() + page.routes() + admin.routes())
    return app


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _free_port(host: str) -> int:
    with _listen(host, 0) as sock:
        return int(sock.getsockname()[1])


class Simulator:
    def __init__(
        self, settings: SimulatorSettings | None = None, clock: SimClock | None = None
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self.sim = Sim(self.settings, World(self.settings, clock))
        self._runner: web.AppRunner | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.http_port = self.https_port = 0
        self.ingest: Ingest | None = None
        self.front: Front | None = None  # --http2: nginx in front of the HTTPS port

    @property
    def world(self) -> World:
        return self.sim.world

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.public_host}:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://{self.settings.public_host}:{self.https_port}"

    @property
    def ca_file(self) -> str:
        return self.sim.ca_file

    async def start(self) -> None:
        if self.settings.state_dir:
            state_dir = Path(self.settings.state_dir)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="spacecast-sim-")
            state_dir = Path(self._tmp.name)
        if self.settings.lever_token_file:
            self.sim.lever_token = levers.read_token(self.settings.lever_token_file)
        tls = make_server_context(state_dir, self.settings.public_host)
        self.sim.ca_file = str(tls.ca_file)
        http_sock = _listen(self.settings.bind, self.settings.http_port)
        self.http_port = http_sock.getsockname()[1]
        self._runner = web.AppRunner(build_app(self.sim), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, http_sock).start()
        if self.settings.http2:  # nginx takes the HTTPS port, the origin is the HTTP one
            self.https_port = self.settings.https_port or _free_port(self.settings.bind)
            self.front = Front(
                self.settings.bind, self.https_port, self.http_port, tls,
                self.settings.http2_requests_per_connection,
            )  # fmt: skip
            # On this thread, as the ingest's nginx (PDEATHSIG is per thread).
            self.front.start()
        else:
            https_sock = _listen(self.settings.bind, self.settings.https_port)
            self.https_port = https_sock.getsockname()[1]
            await web.SockSite(self._runner, https_sock, ssl_context=tls.context).start()
        log.info(
            "simulator listening", http=self.http_url, https=self.https_url, ca_file=self.ca_file,
            http2=self.settings.http2,
        )  # fmt: skip
        if self.settings.ingest:
            await self._start_ingest(state_dir, tls.context)
        # A camera Space's card loops are encoded on first use, once per machine: before a
        # listener's first segment waits for them, if it can.
        if cards := self.sim.world.cards():
            asyncio.get_running_loop().run_in_executor(None, video.warm, cards)

    async def _start_ingest(self, state_dir: Path, tls: ssl.SSLContext) -> None:
        port = self.settings.ingest_port or _free_port(self.settings.bind)
        record_dir = Path(self.settings.ingest_dir or state_dir / "ingest")
        auth = f"http://127.0.0.1:{self.http_port}/_sim/ingest/publish"
        # As wide as the simulator listens, unless a fault proxy stands in front of it.
        host = "127.0.0.1" if self.settings.ingest_proxy else self.settings.bind
        self.ingest = Ingest(port, record_dir, auth, host)
        # On this thread, not a worker's: nginx's PDEATHSIG is tied to the thread that forks
        # it (simulator/ingest.py). The wait for its port is short, before anyone publishes.
        self.ingest.start()
        if self.settings.ingest_proxy:
            self.sim.ingest_proxy = FaultProxy(port)
            self.ingest.public_port = await self.sim.ingest_proxy.start()
        if self.settings.ingest_tls:  # RTMPS: TLS terminated here, RTMP to nginx
            self.sim.ingest_tls = FaultProxy(port)
            self.ingest.tls_port = await self.sim.ingest_tls.start(tls)
        log.info(
            "RTMP ingest listening", url=self.ingest.url("<stream key>"), records=str(record_dir)
        )

    async def stop(self) -> None:
        for front in (self.sim.ingest_proxy, self.sim.ingest_tls):
            if front:
                await front.stop()
        if self.ingest:
            await asyncio.to_thread(self.ingest.stop)
        if self.front:
            await asyncio.to_thread(self.front.stop)
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def spaces(self, origin: str | None = None) -> list[dict[str, Any]]:
        origin = origin or self.https_url
        return [admin.describe(self.sim, e, origin) for e in self.world.entries.values()]


class ThreadedSimulator:
    """A simulator on its own event loop in a daemon thread; use as a context manager."""

    def __init__(
        self, settings: SimulatorSettings | None = None, clock: SimClock | None = None
    ) -> None:
        self.simulator = Simulator(settings, clock)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="simulator", daemon=True
        )

    def __enter__(self) -> Simulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.simulator.start(), self._loop).result(timeout=60)
        return self.simulator

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the simulator's loop (state changes from another thread)."""

        async def _run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(_run(), self._loop).result(timeout=30)


async def serve_forever(settings: SimulatorSettings, on_ready: Callable[[Simulator], None]) -> None:
    # SIGTERM ends it like Ctrl-C, so the ingest's nginx (its own process group) goes too.
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    simulator = Simulator(settings)
    try:
        await simulator.start()
        on_ready(simulator)
        await asyncio.Event().wait()  # until cancelled (Ctrl-C, SIGTERM)
    finally:
        await simulator.stop()
