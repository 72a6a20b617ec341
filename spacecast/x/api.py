"""X's API over one pooled async httpx client: AudioSpaceById and live_video_stream/status.

Failures come back typed (see `spacecast.x.errors`): a retired query id or rejected feature
flags move on to the next known query; an expired guest token is replaced once; a 429 is waited
out until its `x-rate-limit-reset` when that fits in the rate-limit budget.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from spacecast.logs import get_logger
from spacecast.x.auth import Auth
from spacecast.x.errors import (
    AuthRefused,
    FeaturesRejected,
    RateLimited,
    SpaceNotFound,
    StreamUnavailable,
    XHttpError,
)
from spacecast.x.models import SpaceMetadata, stream_location

log = get_logger("spacecast.x")

FEATURES_10 = {
    "dont_mention_me_view_api_enabled": True,
    "interactive_text_enabled": True,
    "responsive_web_edit_tweet_api_enabled": True,
    "responsive_web_enhance_cards_enabled": True,
    "responsive_web_uc_gql_enabled": True,
    "spaces_2022_h2_clipping": True,
    "spaces_2022_h2_spaces_communities": False,
    "standardized_nudges_misinfo": True,
    "tweet_with_visibility_results_prefer_gql_limited_actions_policy_enabled": False,
    "vibe_api_enabled": True,
}
FEATURES_21 = dict.fromkeys(
    (
        "spaces_2022_h2_clipping",
        "spaces_2022_h2_spaces_communities",
        "responsive_web_graphql_exclude_directive_enabled",
        "creator_subscriptions_tweet_preview_api_enabled",
        "tweetypie_unmention_optimization_enabled",
        "responsive_web_edit_tweet_api_enabled",
        "graphql_is_translatable_rweb_tweet_is_translatable_enabled",
        "view_counts_everywhere_api_enabled",
        "longform_notetweets_consumption_enabled",
        "freedom_of_speech_not_reach_fetch_enabled",
        "standardized_nudges_misinfo",
        "tweet_with_visibility_results_prefer_gql_limited_actions_policy_enabled",
        "responsive_web_graphql_timeline_navigation_enabled",
        "longform_notetweets_rich_text_read_enabled",
        "longform_notetweets_inline_media_enabled",
    ),
    True,
) | dict.fromkeys(
    (
        "verified_phone_label_enabled",
        "responsive_web_graphql_skip_user_profile_image_extensions_enabled",
        "responsive_web_twitter_article_tweet_consumption_enabled",
        "tweet_awards_web_tipping_enabled",
        "responsive_web_media_download_video_enabled",
        "responsive_web_enhance_cards_enabled",
    ),
    False,
)


@dataclass(frozen=True)
class Query:
    """One way of asking for a Space: X keeps old query ids alive but changes their flags."""

    query_id: str
    variables: dict[str, Any]
    features: dict[str, bool] = field(default_factory=dict)


def _vars(**extra: bool) -> dict[str, Any]:
    return {"isMetatagsQuery": True, "withReplays": True} | extra


# Tried in order (x-spaces.md 1.3): yt-dlp's long-lived id, then twspace-dl's and the crawler's.
QUERIES = (
    Query(
        "HPEisOmj1epUNLCWTYhUWw",
        _vars(
            withDownvotePerspective=False,
            withReactionsMetadata=False,
            withReactionsPerspective=False,
            withSuperFollowsUserFields=True,
            withSuperFollowsTweetFields=True,
        ),
        FEATURES_10,
    ),
    Query("xVEzTKg_mLTHubK5ayL0HA", _vars(withListeners=True), FEATURES_21),
    Query("kZ9wfR8EBtiP0As3sFFrBA", _vars(withListeners=True), FEATURES_21),
)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _error_code(resp: httpx.Response) -> int | None:
    try:
        errors = resp.json().get("errors") or []
        return int(errors[0]["code"]) if errors else None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _reset_at(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers["x-rate-limit-reset"])
    except (KeyError, ValueError):
        return None


class XClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: Auth,
        web_base_url: str,
        *,
        rate_limit_budget_s: float = 120.0,
        queries: tuple[Query, ...] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.auth = auth
        self.api = web_base_url.rstrip("/") + "/i/api"
        self.rate_limit_budget_s = rate_limit_budget_s
        self.queries = queries if queries is not None else QUERIES
        self._clock = clock
        self._sleep = sleep

    async def space(self, space_id: str) -> SpaceMetadata:
        """The Space's metadata; `SpaceNotFound` when X knows no such Space."""
        rejected: list[str] = []
        for query in self.queries:
            url = f"{self.api}/graphql/{query.query_id}/AudioSpaceById"
            params = {
                "variables": _compact({"id": space_id, **query.variables}),
                "features": _compact(query.features),
            }
            resp = await self.call("AudioSpaceById", url, params)
            if resp.status_code == 404 or _error_code(resp) == 336:
                rejected.append(f"{query.query_id}: {_message(resp)}")
                continue
            if resp.status_code != 200:
                raise XHttpError("AudioSpaceById", resp.status_code, resp.text)
            body = resp.json()
            if _error_code(resp) == 214:  # malformed id: X answers 200 with an error list
                raise SpaceNotFound(space_id)
            audio_space = (body.get("data") or {}).get("audioSpace") or {}
            meta = SpaceMetadata.from_audio_space(space_id, audio_space)
            if meta is None:
                raise SpaceNotFound(space_id)
            return meta
        raise FeaturesRejected("; ".join(rejected))

    async def stream_location(self, media_key: str) -> str:
        """The HLS URL: the live dynamic playlist while Running, the replay list after."""
        url = f"{self.api}/1.1/live_video_stream/status/{media_key}"
        resp = await self.call("live_video_stream/status", url, {"client": "web"})
        if resp.status_code == 404:
            raise StreamUnavailable(media_key)
        if resp.status_code != 200:
            raise XHttpError("live_video_stream/status", resp.status_code, resp.text)
        location = stream_location(resp.json())
        if not location:
            raise StreamUnavailable(media_key)
        return location

    async def call(self, what: str, url: str, params: dict[str, str]) -> httpx.Response:
        """One authenticated GET; auth refusals raise, 429s wait within the budget."""
        deadline = self._clock() + self.rate_limit_budget_s
        retried_token, attempt = False, 0
        while True:
            headers = await self.auth.headers(self.http)
            resp = await self.http.get(url, params=params, headers=headers)
            code = _error_code(resp)
            if resp.status_code == 403 and code == 239 and not retried_token:
                self.auth.forget_guest_token(headers.get("x-guest-token"))
                retried_token = True
                continue
            if resp.status_code in (401, 403):
                raise AuthRefused(f"{what} answered {resp.status_code}: {_message(resp)}")
            if resp.status_code != 429:
                return resp
            attempt += 1
            await self._wait_for_reset(what, _reset_at(resp), deadline, attempt)

    async def _wait_for_reset(
        self, what: str, reset_at: float | None, deadline: float, attempt: int
    ) -> None:
        now = self._clock()
        backoff = min(30.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
        wait = reset_at - now + random.uniform(0.05, 0.25) if reset_at else backoff
        if wait <= 0:
            wait = backoff
        if now + wait > deadline:
            raise RateLimited(what, reset_at)
        log.info("rate-limited, waiting", endpoint=what, seconds=round(wait, 2))
        await self._sleep(wait)


def _message(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        return str(errors[0].get("message", "")) if errors else resp.reason_phrase
    except (ValueError, AttributeError, IndexError):
        return resp.reason_phrase
