"""X's CDN edge in front of the simulator (`--http2`): nginx terminates TLS and speaks HTTP/2
or HTTP/1.1 as the client's ALPN asks, and passes every request to the simulator over plain
HTTP/1.1 on loopback, as an edge does to its origin. Without it the simulator serves HTTPS
itself, HTTP/1.1 only.

The origin sees nginx's address: the front says whose request it is (X-Forwarded-For, set by
nginx, never taken from the client) and `behind_front` gives it back to the handlers, so the
levers' guard and the URLs the simulator writes see the client, not the front.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from simulator import nginx
from simulator.settings import is_loopback
from simulator.tls import ServerTls

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Temporary files nginx may write (bodies it buffers): in its own prefix, never /var/lib.
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def front_conf(host: str, port: int, origin_port: int, pem: Path, requests: int = 1000) -> str:
    """The edge on `host`:`port`; the origin listens on the same address (`host`), reached
    on loopback when that is a wildcard."""
    temps = "\n    ".join(f"{name}_temp_path {name};" for name in TEMP_PATHS)
    return f"""
http {{
    access_log off;
    {temps}
    upstream origin {{
        server {nginx.listen(nginx.reach(host), origin_port)};
        keepalive 64;
    }}
    server {{
        listen {nginx.listen(host, port)} ssl http2;
        keepalive_requests {requests};  # then GOAWAY: clients must open a new connection
        ssl_certificate {pem};
        ssl_certificate_key {pem};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            # Stream as the origin sends: its throttle, its cut-short bodies, unsized bodies.
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
        }}
    }}
}}
"""


class Front:
    def __init__(
        self, host: str, port: int, origin_port: int, tls: ServerTls, requests: int = 1000
    ) -> None:
        self.host, self.port, self.origin_port = host, port, origin_port
        self.requests = requests
        self._tls = tls
        self._nginx = nginx.Nginx("HTTP/2 front")

    def start(self) -> None:
        pem = self._nginx.prefix / "server.pem"
        conf = front_conf(self.host, self.port, self.origin_port, pem, self.requests)
        files = {"server.pem": self._tls.key_and_chain}
        self._nginx.start(conf, self.port, bind=self.host, files=files)

    def stop(self) -> None:
        self._nginx.stop()


@web.middleware
async def behind_front(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The client's address and scheme, as the front on loopback reports them."""
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and is_loopback(request.remote):
        proto = request.headers.get("X-Forwarded-Proto", request.scheme)
        request = request.clone(remote=forwarded, scheme=proto)
    return await handler(request)
