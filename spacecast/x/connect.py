"""From settings to a connection to X, in one place for every command: the pooled HTTP client
(trusting the extra CA when one is set, e.g. the simulator's), the API client with its
credentials, and Space ids that may also name the configured host."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from spacecast import cafile
from spacecast.settings import XSettings
from spacecast.x.api import XClient
from spacecast.x.auth import Auth, Cookies
from spacecast.x.errors import BadCaFile
from spacecast.x.ids import parse_space_id
from spacecast.x.transport import AsyncioTransport

GUEST_ACTIVATE_PATH = "/1.1/guest/activate.json"


def http_client(
    x: XSettings, *, connections: int = 10, timeout_s: float = 20.0
) -> httpx.AsyncClient:
    verify = ssl.create_default_context()
    if x.x_ca_file:
        try:
            verify.load_verify_locations(cadata=cafile.read(x.x_ca_file))
        except cafile.CaFileError as exc:
            raise BadCaFile(x.x_ca_file, str(exc)) from None
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        transport=AsyncioTransport(verify, limits, http2=x.x_http2),
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        # X's API answers where it is asked: a redirect is an answer (errors.REDIRECTED), never
        # followed. Followed, it would carry the CSRF and guest tokens (headers of our own,
        # which httpx keeps from host to host) wherever it points, and a loop would end in
        # httpx's TooManyRedirects, no HTTP answer at all. Media ask to follow (the fetcher).
        follow_redirects=False,
    )


def api_client(
    http: httpx.AsyncClient, x: XSettings, cookies: Cookies | None, **kwargs: Any
) -> XClient:
    auth = Auth(cookies, x.x_api_base_url.rstrip("/") + GUEST_ACTIVATE_PATH)
    return XClient(http, auth, x.x_base_url, **kwargs)


def space_id(text: str, x: XSettings) -> str:
    """The Space id in a URL or id; URLs on the configured web host count too."""
    return parse_space_id(text, extra_hosts=(urlsplit(x.x_base_url).hostname or "",))
