"""The API side against x-spaces.md 1.2-1.4 and 6.1: shapes, auth, errors, rate limits."""

from __future__ import annotations

import json
from typing import Any

import httpx

from simulator.auth import PUBLIC_BEARER
from simulator.graphql import FEATURES_21
from simulator.server import Simulator

from .conftest import MakeSim, client, guest_headers, space_of

QID = "xVEzTKg_mLTHubK5ayL0HA"
FEATURES = json.dumps({f: True for f in FEATURES_21}, separators=(",", ":"))
AUTH_TOKEN, CT0 = "a" * 40, "b" * 160


def by_id(
    http: httpx.Client,
    space_id: str,
    headers: dict[str, str],
    *,
    qid: str = QID,
    features: str = FEATURES,
    prefix: str = "/i/api",
) -> httpx.Response:
    variables = json.dumps(
        {"id": space_id, "isMetatagsQuery": True, "withReplays": True, "withListeners": True}
    )
    return http.get(
        f"{prefix}/graphql/{qid}/AudioSpaceById",
        params={"variables": variables, "features": features},
        headers=headers,
    )


def meta(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["data"]["audioSpace"]["metadata"]  # type: ignore[no-any-return]


def test_guest_flow_returns_the_documented_shape(sim: Simulator) -> None:
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        assert len(headers["x-guest-token"]) == 19
        response = by_id(http, live["id"], headers)
        m = meta(response)
        assert response.headers["x-rate-limit-remaining"].isdigit()
        status = http.get(f"/1.1/live_video_stream/status/{m['media_key']}", headers=headers).json()
    assert m["state"] == "Running" and m["rest_id"] == live["id"]
    assert isinstance(m["started_at"], int) and "ended_at" not in m
    assert m["media_key"].startswith("28_") and len(m["media_key"]) == 22
    creator = m["creator_results"]["result"]
    assert creator["core"]["screen_name"] == creator["legacy"]["screen_name"]
    assert status["source"]["location"].endswith("/audio-space/dynamic_playlist.m3u8?type=live")
    assert status["source"]["noRedirectPlaybackUrl"] == status["source"]["location"]


def test_ended_space_reports_ended_at_as_a_string_and_a_replay(sim: Simulator) -> None:
    ended = space_of(sim, "audio", "Ended")
    with client(sim) as http:
        headers = guest_headers(http)
        m = meta(by_id(http, ended["id"], headers, prefix=""))  # the api.x.com form
        status = http.get(f"/i/api/1.1/live_video_stream/status/{m['media_key']}", headers=headers)
    assert isinstance(m["ended_at"], str) and m["is_space_available_for_replay"] is True
    assert "playlist_" in status.json()["source"]["location"] and "type=replay" in status.text


def test_camera_space_status_has_no_audio_space_directory(sim: Simulator) -> None:
    cam = space_of(sim, "camera", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        location = http.get(
            f"/1.1/live_video_stream/status/{cam['media_key']}", headers=headers
        ).json()["source"]["location"]
    assert "/audio-space/" not in location and "master_dynamic_playlist.m3u8?type=live" in location


def test_cookie_auth_and_csrf_mismatch(sim: Simulator) -> None:
    live = space_of(sim, "audio", "Running")
    bearer = {"Authorization": f"Bearer {PUBLIC_BEARER.replace('%3D', '=')}"}
    with client(sim, cookies={"auth_token": AUTH_TOKEN, "ct0": CT0}) as http:
        assert meta(by_id(http, live["id"], bearer | {"x-csrf-token": CT0}))["state"] == "Running"
        refused = by_id(http, live["id"], bearer | {"x-csrf-token": "c" * 160})
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == 353


def test_only_listed_auth_tokens_when_configured(make_sim: MakeSim) -> None:
    sim = make_sim(valid_auth_tokens=["f" * 40])
    live = space_of(sim, "audio", "Running")
    with client(sim, cookies={"auth_token": AUTH_TOKEN, "ct0": CT0}) as http:
        bearer = {"Authorization": f"Bearer {PUBLIC_BEARER}", "x-csrf-token": CT0}
        assert by_id(http, live["id"], bearer).status_code == 401


def test_graphql_errors(sim: Simulator) -> None:
    with client(sim) as http:
        headers = guest_headers(http)
        assert by_id(http, "1OdJrXyZaBcDe", headers, qid="NotARealQueryId").status_code == 404
        missing = by_id(http, "1OdJrXyZaBcDe", headers, features="{}")
        bad_id = by_id(http, "no_id", headers)
        unknown = by_id(http, "1ZZZZZZZZZZZZ", headers)
    assert missing.status_code == 400
    error = missing.json()["errors"][0]
    assert error["code"] == 336 and error["message"].startswith(
        "The following features cannot be null: "
    )
    assert bad_id.status_code == 200 and bad_id.json()["errors"][0]["code"] == 214
    assert unknown.json() == {"data": {"audioSpace": {}}}


def test_auth_failures(make_sim: MakeSim) -> None:
    sim = make_sim(guest_enabled=False, require_transaction_id=False)
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        assert by_id(http, live["id"], {}).status_code == 401
        assert by_id(http, live["id"], headers).json()["errors"][0]["code"] == 200
        assert http.post("/1.1/guest/activate.json").status_code == 401


def test_guest_token_expiry(make_sim: MakeSim) -> None:
    sim = make_sim(guest_token_ttl_s=60)
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        assert by_id(http, live["id"], headers).status_code == 200
        sim.world.clock.advance(61)
        expired = by_id(http, live["id"], headers)
    assert expired.status_code == 403 and expired.json()["errors"][0]["code"] == 239


def test_rate_limit_and_bursts(make_sim: MakeSim) -> None:
    sim = make_sim(api_rate_limit=3, guest_activate_limit=2)
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        codes = [by_id(http, live["id"], headers).status_code for _ in range(4)]
        limited = by_id(http, live["id"], headers)
        activations = [
            http.post(
                "/1.1/guest/activate.json", headers={"Authorization": f"Bearer {PUBLIC_BEARER}"}
            ).status_code
            for _ in range(2)
        ]
    assert codes == [200, 200, 200, 429]
    assert limited.json() == {"errors": [{"code": 88, "message": "Rate limit exceeded."}]}
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert int(limited.headers["x-rate-limit-reset"]) > sim.world.now()
    assert activations == [200, 429]  # the fixture's own activation was the first


def test_bursts_of_429(make_sim: MakeSim) -> None:
    sim = make_sim(burst_429_every=3, burst_429_length=2)
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        codes = [by_id(http, live["id"], headers).status_code for _ in range(6)]
    assert codes == [200, 200, 429, 429, 200, 429]


def test_transaction_id_requirement(make_sim: MakeSim) -> None:
    sim = make_sim(require_transaction_id=True)
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        headers = guest_headers(http)
        assert by_id(http, live["id"], headers).status_code == 404
        with_id = headers | {"x-client-transaction-id": "abc"}
        assert by_id(http, live["id"], with_id).status_code == 200


def test_late_2025_schema_omits_legacy_names(make_sim: MakeSim) -> None:
    sim = make_sim(omit_legacy_names=True)
    live = space_of(sim, "audio", "Running")
    with client(sim) as http:
        creator = meta(by_id(http, live["id"], guest_headers(http)))["creator_results"]["result"]
    assert "screen_name" not in creator["legacy"] and creator["core"]["screen_name"]


def test_avatar_content_needs_cookies(sim: Simulator) -> None:
    with client(sim, cookies={"auth_token": AUTH_TOKEN, "ct0": CT0}) as http:
        headers = {"Authorization": f"Bearer {PUBLIC_BEARER}", "x-csrf-token": CT0}
        live = space_of(sim, "audio", "Running")
        creator = meta(by_id(http, live["id"], headers))["creator_results"]["result"]["rest_id"]
        body = http.get(
            "/fleets/v1/avatar_content",
            params={"user_ids": creator, "only_spaces": "true"},
            headers=headers,
        ).json()
    assert (
        body["users"][creator]["spaces"]["live_content"]["audiospace"]["broadcast_id"] == live["id"]
    )
