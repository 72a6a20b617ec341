"""JSON bodies of X's API, as documented in x-spaces.md 1.3, 1.4 and 6.1 (pure functions)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from simulator.audio import SPEAKERS
from simulator.model import Space, SpaceState


def ms(epoch: float) -> int:
    return int(epoch * 1000)


def _user_id(name: str) -> str:
    return str(int(hashlib.sha256(name.encode()).hexdigest()[:15], 16))


def _avatar(name: str) -> str:
    return f"https://pbs.twimg.com/profile_images/{_user_id(name)[:6]}/{name}_normal.jpg"


def participant(name: str, start: float, muted: bool = False) -> dict[str, Any]:
    return {
        "periscope_user_id": "1" + hashlib.sha256(name.encode()).hexdigest()[:12],
        "start": ms(start),
        "twitter_screen_name": name,
        "display_name": name.replace("_", " ").title(),
        "avatar_url": _avatar(name),
        "is_verified": False,
        "is_muted_by_admin": False,
        "is_muted_by_guest": muted,
        "user_results": {
            "rest_id": _user_id(name),
            "result": {
                "__typename": "User",
                "identity_profile_labels_highlighted_label": {},
                "is_blue_verified": False,
                "legacy": {},
            },
        },
    }


def creator(space: Space, omit_legacy_names: bool) -> dict[str, Any]:
    names = {"name": space.host.replace("_", " ").title(), "screen_name": space.host}
    legacy: dict[str, Any] = {
        "profile_image_url_https": _avatar(space.host),
        "protected": False,
        "verified": False,
    }
    if not omit_legacy_names:
        legacy |= names
    return {
        "result": {
            "__typename": "User",
            "id": f"VXNlcjo{_user_id(space.host)}",
            "rest_id": _user_id(space.host),
            "is_blue_verified": False,
            "core": names,
            "legacy": legacy,
        }
    }


def metadata(space: Space, now: float, listeners: int, omit_legacy_names: bool) -> dict[str, Any]:
    state = space.state(now)
    meta: dict[str, Any] = {
        "rest_id": space.id,
        "state": state.value,
        "title": space.title,
        "media_key": space.media_key,
        "created_at": ms(space.created_at),
        "scheduled_start": ms(space.starts_at),
        "updated_at": ms(now),
        "replay_start_time": 0,
        "disallow_join": False,
        "narrow_cast_space_type": 0,
        "is_employee_only": False,
        "is_locked": False,
        "is_muted": False,
        "is_space_available_for_replay": space.replay,
        "is_space_available_for_clipping": False,
        "conversation_controls": 0,
        "no_incognito": False,
        "total_replay_watched": 0,
        "total_live_listeners": listeners,
        "content_type": "visual_audio" if space.kind == "camera" else "audio",
        "creator_results": creator(space, omit_legacy_names),
    }
    if state is not SpaceState.NOT_STARTED:
        meta["started_at"] = ms(space.starts_at)
    if state is SpaceState.ENDED and space.ends_at is not None:
        meta["ended_at"] = str(ms(space.ends_at))  # a string on X, unlike the other times
    return meta


def audio_space(
    space: Space, now: float, listeners: list[str], anonymous: int, omit_legacy_names: bool
) -> dict[str, Any]:
    state = space.state(now)
    on_stage = state is SpaceState.RUNNING
    admins = (
        [participant(space.host, space.starts_at)] if state is not SpaceState.NOT_STARTED else []
    )
    speakers = (
        [participant(n, space.starts_at + 30, muted=False) for n in SPEAKERS[1:]]
        if on_stage
        else []
    )
    heard = [participant(n, now) for n in listeners] if on_stage else []
    return {
        "metadata": metadata(space, now, len(listeners) + anonymous, omit_legacy_names),
        "is_subscribed": False,
        "participants": {
            "total": len(admins) + len(speakers) + len(heard),
            "admins": admins,
            "speakers": speakers,
            "listeners": heard,
        },
        "sharings": {"items": []},
    }


def status(location: str) -> dict[str, Any]:
    return {
        "source": {
            "location": location,
            "noRedirectPlaybackUrl": location,
            "status": "LIVE_PUBLIC",
            "streamType": "HLS",
        },
        "sessionId": secrets.token_hex(16),
        "chatToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ltdWxhdG9y",
        "lifecycleToken": secrets.token_hex(12),
        "shareUrl": "",
        "chatPermissionType": "",
    }


def graphql_error(code: int, message: str, *, path: list[str] | None = None) -> dict[str, Any]:
    trace = {"trace_id": secrets.token_hex(8)}
    ext = {
        "name": "BadRequestError",
        "source": "Client",
        "code": code,
        "kind": "Validation",
        "tracing": trace,
    }
    err: dict[str, Any] = {"message": message}
    if path:
        err |= {"locations": [{"line": 8, "column": 3}], "path": path}
    return {
        "errors": [
            err
            | {"extensions": ext}
            | {k: ext[k] for k in ("code", "kind", "name", "source", "tracing")}
        ]
    }


def rest_error(code: int, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}
