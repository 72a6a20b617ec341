"""Typed failures of X's API. Each is a `UserError`, so a command that lets one through prints
one line and exits with the failure's own code; callers that can recover catch the type."""

from __future__ import annotations

import os
import re
import socket
import ssl

import httpx

from spacecast.errors import ExitCode, UserError


class XError(UserError):
    """Base of every failure reported by the X client."""


class InvalidSpaceId(XError):
    def __init__(self, text: str) -> None:
        super().__init__(f"not a Space URL or id: {text!r}", ExitCode.INVALID_SPACE)


class SpaceNotFound(XError):
    def __init__(self, space_id: str) -> None:
        super().__init__(f"Space {space_id} not found", ExitCode.SPACE_NOT_FOUND)


class AuthRefused(XError):
    """403 code 353 (csrf cookie/header mismatch), 401, or guest access turned off."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"X refused the credentials: {detail}", ExitCode.AUTH_REFUSED)


class FeaturesRejected(XError):
    """400 code 336 (required feature flags missing) or unknown query ids, for every query."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"X rejected the Space query: {detail}", ExitCode.FEATURES_REJECTED)


class RateLimited(XError):
    def __init__(self, what: str, reset_at: float | None) -> None:
        when = f" until {reset_at:.0f} (epoch s)" if reset_at else ""
        super().__init__(f"rate-limited by X on {what}{when}", ExitCode.RATE_LIMITED)
        self.reset_at = reset_at


class StreamUnavailable(XError):
    """`live_video_stream/status` answered 404: no live stream and no replay (yet or ever)."""

    def __init__(self, media_key: str) -> None:
        super().__init__(f"no stream for media key {media_key}", ExitCode.NO_REPLAY)


# What an API call answered with a redirect says: the client follows none (`connect.http_client`).
REDIRECTED = "a redirect, which X's API never answers: check --x-api-base-url and any proxy"


class XHttpError(XError):
    """Any other unexpected answer from X's API."""

    def __init__(self, what: str, status: int, body: str) -> None:
        detail = REDIRECTED if 300 <= status < 400 else body[:200]
        super().__init__(f"{what}: HTTP {status}: {detail}", ExitCode.MEDIA_UNAVAILABLE)
        self.status = status


class Unreachable(XError):
    def __init__(self, host: str, why: str) -> None:
        super().__init__(
            f"cannot connect to {host}: {why}; check the network, a proxy, and "
            "--x-base-url/--x-api-base-url",
            ExitCode.X_UNREACHABLE,
        )


class TlsUntrusted(XError):
    def __init__(self, host: str, why: str) -> None:
        super().__init__(
            f"the TLS certificate of {host} does not verify ({why}); if a private CA signs "
            "it, give that CA with --x-ca-file",
            ExitCode.TLS_UNTRUSTED,
        )


class BadCaFile(XError):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(
            f"cannot use --x-ca-file {path}: {why}; give a PEM file of CA certificates",
            ExitCode.BAD_CA_FILE,
        )


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def _host(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # raised outside a request: no URL to name
        return "X"
    return f"{url.host}:{url.port}" if url.port else url.host


def from_transport(exc: httpx.TransportError) -> XError | None:
    """The one line for a connection that could not be made or trusted; None for a failure
    of an established connection (a reset, a timeout or a TLS error mid-body: worth retrying).
    The text names the host and the cause, never a header (httpx's errors quote none)."""
    if not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return None
    causes = _causes(exc)
    if verify := next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None):
        return TlsUntrusted(_host(exc), verify.verify_message or "certificate verify failed")
    if tls := next((c for c in causes if isinstance(c, ssl.SSLError)), None):
        reason = getattr(tls, "reason", None) or type(tls).__name__
        return Unreachable(_host(exc), f"TLS handshake failed ({reason}): is it an HTTPS port?")
    if any(isinstance(c, socket.gaierror) for c in causes):
        return Unreachable(_host(exc), "no such host")
    if isinstance(exc, httpx.ConnectTimeout) or any(isinstance(c, TimeoutError) for c in causes):
        return Unreachable(_host(exc), "timed out")
    return Unreachable(_host(exc), _os_reason(causes))


def _os_reason(causes: list[BaseException]) -> str:
    """Why the connect failed: the first errno, also from asyncio's "Multiple exceptions"
    (a host with an IPv6 and an IPv4 address, both refused), which carries none itself."""
    for cause in causes:
        if isinstance(cause, OSError):
            found = [cause.errno] if cause.errno else re.findall(r"\[Errno (\d+)\]", str(cause))
            if found:
                return os.strerror(int(found[0])).lower()
    return "no connection"
