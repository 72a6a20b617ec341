"""The Space page at /i/spaces/<id>, which a real browser joins as on X.

The page does what X's web client does: it authenticates (cookies and csrf header, or a guest
token), calls AudioSpaceById, shows the host and speakers, and offers a listen control. An audio
Space then plays its live HLS audio (Media Source Extensions, in step with the playlist) and
lights up whoever is speaking; a camera Space gives listeners a video element that never gets
data (readyState stays 1), as X does over WebRTC.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
from pathlib import Path

from aiohttp import web

from simulator import audio, graphql
from simulator.auth import PUBLIC_BEARER
from simulator.state import SIM, Sim

STATIC = Path(__file__).parent / "static"
CAMERA_CODECS = 'video/mp4; codecs="avc1.4d401e,mp4a.40.2"'


async def space_page(request: web.Request) -> web.Response:
    space_id = request.match_info["space_id"]
    entry = request.app[SIM].world.by_id(space_id)
    config = {
        "spaceId": space_id,
        "queryId": graphql.PAGE_QUERY_ID,
        "features": {f: True for f in graphql.QUERY_IDS[graphql.PAGE_QUERY_ID][1]},
        "bearer": PUBLIC_BEARER,
        "cameraCodecs": CAMERA_CODECS,
        "pattern": entry is not None and entry.space.kind == "avsync",
    }
    html = (STATIC / "space.html").read_text().replace("/*CONFIG*/{}", json.dumps(config))
    return web.Response(text=html, content_type="text/html")


async def static_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in {"space.js", "space.css"}:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name)


async def join(request: web.Request) -> web.Response:
    """The page reports a listener; named ones show in participants.listeners, anonymous don't."""
    sim: Sim = request.app[SIM]
    body = await request.json()
    name = None if body.get("anonymous", True) else request.cookies.get("twid", "listener")
    sim.listeners.join(request.match_info["space_id"], name)
    return web.json_response({"joined": True})


FFMPEG_CAMERA_INIT = [
    "ffmpeg",
    "-nostdin",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "color=c=black:s=320x180:d=1",
    "-f",
    "lavfi",
    "-i",
    "anullsrc=r=48000:cl=stereo",
    "-t",
    "1",
    "-c:v",
    "libx264",
    "-profile:v",
    "main",
    "-level",
    "3.0",
    "-c:a",
    "aac",
    "-movflags",
    "frag_keyframe+empty_moov+default_base_moof",
    "-f",
    "mp4",
]


@functools.cache
def camera_init() -> bytes:
    """The init segment (ftyp + moov) of a fragmented MP4: metadata and never any media."""
    path = audio.cache_dir() / "camera-init.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*FFMPEG_CAMERA_INIT, f"{path}.tmp"], check=True)
        Path(f"{path}.tmp").rename(path)
    data = path.read_bytes()
    pos = 0
    while pos < len(data):  # keep boxes up to and including moov
        size, kind = int.from_bytes(data[pos : pos + 4]), data[pos + 4 : pos + 8]
        pos += size
        if kind == b"moov":
            return data[:pos]
    raise RuntimeError("no moov box in the camera init segment")


async def camera_init_segment(request: web.Request) -> web.Response:
    """A camera Space's player gets this and nothing more, so it sits at HAVE_METADATA."""
    return web.Response(body=await asyncio.to_thread(camera_init), content_type="video/mp4")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/i/spaces/{space_id}", space_page),
        web.get("/i/spaces/{space_id}/peek", space_page),
        web.get("/_sim/static/{name}", static_file),
        web.post("/_sim/spaces/{space_id}/join", join),
        web.get("/_sim/camera-init.mp4", camera_init_segment),
    ]
