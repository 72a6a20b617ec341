"""Credentials for X's API (x-spaces.md 1.2): the public web-client bearer plus either a
logged-in browser's cookies (`auth_token`, `ct0`, echoed as `x-csrf-token`) or a guest token.

Cookie values are secrets: they live only in `Cookies`, whose repr hides them, and go out only in
request headers to X's API, never to the CDN, the logs or a process's arguments.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from spacecast.cafile import NotRegular, read_regular
from spacecast.errors import ExitCode, UserError
from spacecast.x.errors import AuthRefused, RateLimited, XHttpError

# The bearer embedded in X's web client; every tool sends the same one.
PUBLIC_BEARER = (
    "AAAAAAAAAAAAAAAAAAAAANRILgAAAAAAnNwIzUejRCOuH5E6I8xnZz4puTs%3D"
    "1Zv7ttfk8LF81IUq16cHjhLTvJu4FA33AGWWjCpTnA"
)
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
WANTED = ("auth_token", "ct0")
# RFC 6265's cookie-octet: no controls, whitespace, '"', ',', ';' or '\'. A value with a CR or a
# LF would otherwise reach a header, and the HTTP library's error would quote it (and the
# token with it) into logs and the termination message.
COOKIE_OCTETS = frozenset(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\')
MAX_COOKIE = 4096
MAX_COOKIE_FILE = 1 << 20  # a browser's whole cookie export is far smaller; /dev/zero is not
# twspace-crawler's choice: reuse a guest token for 30 minutes, refresh early when X says so.
GUEST_TOKEN_MAX_AGE_S = 1800.0


class BadCookies(UserError):
    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"cookies {path}: {why}", ExitCode.BAD_COOKIES)


@dataclass(frozen=True)
class Cookies:
    auth_token: str = field(repr=False)
    ct0: str = field(repr=False)

    def header(self) -> str:
        return f"auth_token={self.auth_token}; ct0={self.ct0}"


def _from_netscape(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#HttpOnly_"):  # curl's marker for HttpOnly cookies, still a cookie
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\r\n").split("\t")
        if len(cols) >= 7:
            found[cols[5]] = cols[6]
    return found


def _from_json(data: Any) -> dict[str, str]:
    """A {name: value} object, or a list of {"name", "value", ...} (browser extensions)."""
    if isinstance(data, dict) and isinstance(data.get("cookies"), list):
        data = data["cookies"]
    if isinstance(data, dict):  # values that are not strings (null, numbers) are no cookies
        return {str(k): v for k, v in data.items() if isinstance(v, str)}
    if isinstance(data, list):
        return {
            str(c["name"]): c["value"]
            for c in data
            if isinstance(c, dict) and "name" in c and isinstance(c.get("value"), str)
        }
    return {}


def load_cookies(path: Path) -> Cookies:
    """Read `auth_token` and `ct0` from a Netscape cookies.txt or a JSON export."""
    try:
        raw = read_regular(path, MAX_COOKIE_FILE + 1)
        text = raw.decode("utf-8-sig")
    except NotRegular:
        raise BadCookies(path, "not a regular file (export the cookies to a file)") from None
    except OSError as exc:
        raise BadCookies(path, exc.strerror or exc.__class__.__name__) from None
    except UnicodeDecodeError:
        raise BadCookies(path, "not UTF-8 text") from None
    if len(raw) > MAX_COOKIE_FILE:
        raise BadCookies(path, f"over {MAX_COOKIE_FILE >> 20} MiB: not a cookie file")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            found = _from_json(json.loads(stripped))
        except json.JSONDecodeError:
            raise BadCookies(path, "not valid JSON") from None
    else:
        found = _from_netscape(text)
    missing = [name for name in WANTED if not found.get(name)]
    if missing:
        raise BadCookies(path, "missing " + " and ".join(missing))
    for name in WANTED:  # say which and why, never the value
        value = found[name]
        if len(value) > MAX_COOKIE or not set(value) <= COOKIE_OCTETS:
            raise BadCookies(
                path,
                f"{name} is not a cookie value (control characters, spaces, quotes, ';', ',' "
                f"or '\\', or over {MAX_COOKIE} characters)",
            )
    return Cookies(found["auth_token"], found["ct0"])


GUEST_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,128}")  # X's are 19 digits; a header value, so no more


def guest_token_in(body: str) -> str | None:
    """The token in guest/activate.json's answer (`{"guest_token": "1862..."}`), or None when
    the answer has none fit to send back as a header."""
    try:
        token = json.loads(body)["guest_token"]
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(token, bool) or not isinstance(token, str | int):
        return None
    text = str(token)
    return text if GUEST_TOKEN.fullmatch(text) else None


class Auth:
    """Headers for one API call; a guest token is fetched once and shared until it is stale."""

    def __init__(
        self,
        cookies: Cookies | None,
        activate_url: str,
        *,
        max_age_s: float = GUEST_TOKEN_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cookies = cookies
        self.activate_url = activate_url
        self.max_age_s = max_age_s
        self._clock = clock
        self._guest: tuple[str, float] | None = None  # token, when obtained
        self._lock = asyncio.Lock()
        self.activations = 0

    def base_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {PUBLIC_BEARER}",
            "User-Agent": USER_AGENT,
            "x-twitter-active-user": "yes",
            "x-twitter-client-language": "en",
            "Referer": "https://x.com/",
        }

    async def headers(self, http: httpx.AsyncClient) -> dict[str, str]:
        headers = self.base_headers()
        if self.cookies:
            headers |= {
                "Cookie": self.cookies.header(),
                "x-csrf-token": self.cookies.ct0,
                "x-twitter-auth-type": "OAuth2Session",
            }
        else:
            headers["x-guest-token"] = await self.guest_token(http)
        return headers

    def forget_guest_token(self, token: str | None) -> None:
        """X said the token is bad (code 239): drop it unless another call already replaced it."""
        if self._guest and (token is None or self._guest[0] == token):
            self._guest = None

    async def guest_token(self, http: httpx.AsyncClient) -> str:
        async with self._lock:
            now = self._clock()
            if self._guest and now - self._guest[1] < self.max_age_s:
                return self._guest[0]
            resp = await http.post(self.activate_url, headers=self.base_headers(), content=b"")
            self.activations += 1
            if resp.status_code == 429:
                raise RateLimited("guest/activate.json", None)
            if resp.status_code in (401, 403):
                raise AuthRefused(f"guest activation answered {resp.status_code}")
            if resp.status_code != 200:
                raise XHttpError("guest/activate.json", resp.status_code, resp.text)
            token = guest_token_in(resp.text)
            if token is None:
                raise XHttpError("guest/activate.json", 200, "no usable guest_token in the answer")
            self._guest = (token, now)
            return token
