"""Who may call the API: the public bearer plus a guest token, or cookies plus a matching
csrf header (x-spaces.md 1.2). Tokens live on the simulator's clock, so they expire early when
the clock runs fast, and tests can expire them on demand."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.responses import rest_error

PUBLIC_BEARER = (
    "AAAAAAAAAAAAAAAAAAAAANRILgAAAAAAnNwIzUejRCOuH5E6I8xnZz4puTs%3D"
    "1Zv7ttfk8LF81IUq16cHjhLTvJu4FA33AGWWjCpTnA"
)
BEARERS = {f"Bearer {PUBLIC_BEARER}", f"Bearer {PUBLIC_BEARER.replace('%3D', '=')}"}
AUTH_TOKEN_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Denied:
    status: int
    body: dict[str, object]


@dataclass(frozen=True)
class Caller:
    kind: str  # "guest" or "user"
    who: str  # guest token or auth_token digest, for rate limiting and listener lists


def bearer_ok(headers: Mapping[str, str]) -> bool:
    return headers.get("Authorization", "") in BEARERS


@dataclass
class GuestTokens:
    ttl_s: float
    issued: dict[str, float] = field(default_factory=dict)  # token -> expiry (sim time)

    def issue(self, now: float) -> str:
        token = str(1_800_000_000_000_000_000 + secrets.randbelow(10**17))
        self.issued[token] = now + self.ttl_s
        return token

    def valid(self, token: str, now: float) -> bool:
        return self.issued.get(token, 0) > now

    def expire_all(self) -> None:
        self.issued.clear()


def authenticate(
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    *,
    now: float,
    guests: GuestTokens,
    guest_enabled: bool,
    valid_auth_tokens: list[str],
) -> Caller | Denied:
    if not bearer_ok(headers):
        return Denied(401, rest_error(32, "Could not authenticate you."))
    auth_token, ct0 = cookies.get("auth_token"), cookies.get("ct0")
    if auth_token or ct0:
        if not ct0 or headers.get("x-csrf-token") != ct0:
            return Denied(
                403, rest_error(353, "This request requires a matching csrf cookie and header.")
            )
        if (
            not auth_token
            or not AUTH_TOKEN_RE.match(auth_token)
            or (valid_auth_tokens and auth_token not in valid_auth_tokens)
        ):
            return Denied(401, rest_error(32, "Could not authenticate you."))
        return Caller("user", auth_token[:8])
    token = headers.get("x-guest-token")
    if not token:
        return Denied(401, rest_error(32, "Could not authenticate you."))
    if not guest_enabled:
        return Denied(403, rest_error(200, "Forbidden."))
    if not guests.valid(token, now):
        return Denied(403, rest_error(239, "Bad guest token."))
    return Caller("guest", token)
