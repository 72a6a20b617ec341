"""Typed failures of X's API. Each is a `UserError`, so a command that lets one through prints
one line and exits with the failure's own code; callers that can recover catch the type."""

from __future__ import annotations

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


class XHttpError(XError):
    """Any other unexpected answer from X's API."""

    def __init__(self, what: str, status: int, body: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {body[:200]}", ExitCode.MEDIA_UNAVAILABLE)
        self.status = status
