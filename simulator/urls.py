"""Where a Space's media lives, laid out as on X's CDN (x-spaces.md 2.1 and 2.2).

Paths are built here and parsed by the routes in `simulator.media`; the simulator serves them
from its own origin, so one HTTPS port stands in for both X's API hosts and video.pscp.tv.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

REGIONS = ("us-east-1", "ap-northeast-1", "eu-west-3", "us-west-1")
JWT_HEADER = {"alg": "HS256", "typ": "JWT", "version": "2"}
AUDIO_JWT = {"Height": 100, "Kbps": 350, "TranscodeAudio": True, "Width": 100}
# A camera Space's renditions, best first. Rendition 0 carries the Space's audio.
RENDITIONS = (
    {"EncoderSetting": "encoder_setting_720p30_10", "Height": 720, "Kbps": 2750, "Width": 1280},
    {"EncoderSetting": "encoder_setting_480p30_10", "Height": 480, "Kbps": 1200, "Width": 854},
    {"EncoderSetting": "encoder_setting_240p30_10", "Height": 240, "Kbps": 400, "Width": 426},
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hls_token(seed: int, space_id: str) -> str:
    """86 URL-safe characters, as X's (a SHA-512 digest in unpadded base64url is exactly 86)."""
    return _b64(hashlib.sha512(f"{seed}:{space_id}".encode()).digest())


def jwt(payload: Mapping[str, object]) -> str:
    head = _b64(json.dumps(JWT_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    sig = _b64(hmac.new(b"simulator", f"{head}.{body}".encode(), "sha256").digest())
    return f"{head}.{body}.{sig}"


def jwt_payload(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


def playlist_id(seed: int, space_id: str, snapshot: int | str) -> str:
    digest = hashlib.sha256(f"{seed}:{space_id}:{snapshot}".encode()).digest()
    return f"1{int.from_bytes(digest[:8]) % 10**19:019d}"


class SpacePaths:
    """The absolute paths of one Space's playlists and chunks."""

    def __init__(self, seed: int, space_id: str, index: int) -> None:
        self.token = hls_token(seed, space_id)
        self.region = REGIONS[index % len(REGIONS)]
        self.deploy = f"periscope-replay-direct-prod-{self.region}-public"
        self.root = f"/Transcoding/v1/hls/{self.token}"

    @property
    def non_transcode(self) -> str:
        return f"{self.root}/non_transcode/{self.region}/{self.deploy}"

    def transcode(self, payload: Mapping[str, object]) -> str:
        return f"{self.root}/transcode/{self.region}/{self.deploy}/{jwt(payload)}"

    # Audio Spaces.
    @property
    def audio_dir(self) -> str:
        return f"{self.non_transcode}/audio-space"

    @property
    def dynamic(self) -> str:
        return f"{self.audio_dir}/dynamic_playlist.m3u8?type=live"

    @property
    def master(self) -> str:
        return f"{self.audio_dir}/master_playlist.m3u8"

    def chunk_list(self, pid: str) -> str:
        return f"{self.transcode(AUDIO_JWT)}/audio-space/playlist_{pid}.m3u8"

    def replay(self, pid: str) -> str:
        return f"{self.audio_dir}/playlist_{pid}.m3u8?type=replay"

    # Camera Spaces.
    @property
    def video_master_live(self) -> str:
        return f"{self.non_transcode}/master_dynamic_playlist.m3u8?type=live"

    def video_master_replay(self, pid: str) -> str:
        return f"{self.non_transcode}/master_dynamic_{pid}.m3u8?type=replay"

    def rendition_dir(self, rendition: int) -> str:
        return self.transcode(RENDITIONS[rendition])
