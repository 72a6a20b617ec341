"""The CDN side: playlists and chunks under /Transcoding/v1/hls/<token>/... (x-spaces.md 6.2),
with the fault knobs applied on the way out."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from simulator import playlists
from simulator.camera import Card
from simulator.chunks import ChunkMaker
from simulator.model import SpaceState
from simulator.state import SIM, Sim
from simulator.urls import RENDITIONS, jwt_payload
from simulator.world import SpaceEntry

M3U8 = "application/x-mpegURL"
HLS = "/Transcoding/v1/hls/{token}"
CHUNK_RE = re.compile(r"^chunk_(\d{19})_(\d+)_(a\.aac|v\.ts)$")
PLAYLIST_RE = re.compile(r"^playlist_(\d{20})\.m3u8$")
VIDEO_REPLAY_RE = re.compile(r"^master_dynamic_(\d{20})\.m3u8$")
TS_PACKET = 188
SHORT_BY_PACKETS = 24
REFERERS = re.compile(r"^https://([a-z0-9.-]+\.)?(x|twitter)\.com/")


def _entry(request: web.Request) -> tuple[Sim, SpaceEntry]:
    sim: Sim = request.app[SIM]
    entry = sim.world.by_token(request.match_info["token"])
    if entry is None:
        raise web.HTTPNotFound()
    if sim.settings.require_referer and not REFERERS.match(request.headers.get("Referer", "")):
        raise web.HTTPForbidden()
    return sim, entry


async def send(
    request: web.Request, body: bytes, content_type: str, truncate: bool = False
) -> web.StreamResponse:
    """Write a body the way the CDN does today: maybe throttled, unsized, or cut short."""
    settings = request.app[SIM].settings
    resp = web.StreamResponse(headers={"Content-Type": content_type, "Accept-Ranges": "bytes"})
    if settings.omit_content_length:
        resp.enable_chunked_encoding()
    else:
        resp.content_length = len(body)
    if truncate:
        resp.force_close()  # the client sees the connection end before Content-Length bytes
        body = body[: len(body) // 2]
    await resp.prepare(request)
    rate = settings.throttle_kbps * 1000
    step = max(1024, int(rate / 20)) if rate else len(body) or 1
    for offset in range(0, len(body), step):
        await resp.write(body[offset : offset + step])
        if rate:
            await asyncio.sleep(step / rate)
    await resp.write_eof()
    return resp


def _playlist(text: str) -> web.Response:
    return web.Response(text=text, content_type=M3U8)


def _live_window(sim: Sim, entry: SpaceEntry) -> list[int]:
    complete = sim.world.complete_chunks(entry)
    return list(range(max(0, complete - sim.settings.live_window), complete))


def _list_seqs(sim: Sim, entry: SpaceEntry, which: int | str) -> list[int] | None:
    """Chunks in a chunk list: a live snapshot, or the final list with its 404 and lag windows."""
    space, now = entry.space, sim.world.now()
    if which != "final":
        issued_until = space.starts_at + (int(which) + 1) * sim.settings.snapshot_every_s
        return list(range(sim.world.complete_chunks(entry, at=min(now, issued_until))))
    ends_at = space.ends_at or now
    since_end = now - ends_at
    s = sim.settings
    if since_end < s.final_list_404_s:
        return None
    count = sim.world.complete_chunks(entry)
    if since_end < s.final_list_404_s + s.final_list_lag_s:
        count = max(0, count - s.final_list_lag_chunks)
    return [seq for seq in range(count) if seq not in sim.faults.missing]


def _vod(maker: ChunkMaker, seqs: list[int], suffix: str = "") -> str:
    def uri(seq: int) -> str:
        return maker.name(seq).replace("_a.aac", suffix or "_a.aac")

    return playlists.vod(seqs, maker.timeline.extinf, uri, maker.pdt)


async def audio_file(request: web.Request) -> web.StreamResponse:
    sim, entry = _entry(request)
    name, now = request.match_info["file"], sim.world.now()
    state = entry.space.state(now)
    transcoded = "jwt" in request.match_info
    if name == "dynamic_playlist.m3u8" and not transcoded:
        if state is not SpaceState.RUNNING or entry.space.host_away(now):
            raise web.HTTPNotFound()
        maker = entry.chunks
        return _playlist(
            playlists.live(
                _live_window(sim, entry),
                maker.timeline.extinf,
                lambda q: maker.name(q) + "?type=live",
                maker.pdt,
            )
        )
    if name == "master_playlist.m3u8" and not transcoded:
        if state is SpaceState.NOT_STARTED:
            raise web.HTTPNotFound()
        pid = sim.world.playlist_id(entry, sim.world.snapshot(entry))
        return _playlist(playlists.audio_master(entry.paths.chunk_list(pid)))
    if match := PLAYLIST_RE.match(name):
        which = sim.world.resolve_playlist_id(entry, match[1])
        seqs = None if which is None else _list_seqs(sim, entry, which)
        if seqs is None:
            raise web.HTTPNotFound()
        return _playlist(_vod(entry.chunks, seqs))
    if (match := CHUNK_RE.match(name)) and match[3] == "a.aac":
        if transcoded:
            raise web.HTTPBadRequest()
        return await _chunk(request, sim, entry, int(match[2]), match[0])
    raise web.HTTPNotFound()


async def _chunk(
    request: web.Request, sim: Sim, entry: SpaceEntry, seq: int, name: str
) -> web.StreamResponse:
    maker = entry.chunks
    if seq >= sim.world.complete_chunks(entry) or maker.name(seq) != name or sim.faults.chunk_404():
        raise web.HTTPNotFound()
    if seq in sim.faults.lost:
        raise web.HTTPNotFound()
    body = maker.body(seq, stray_bytes=sim.faults.stray_bytes(entry.space.id, seq))
    if seq in sim.faults.short:
        last = maker.frame(maker.timeline.first_frame(seq) + maker.timeline.frames(seq) - 1)
        body = body[: len(body) - len(last) // 2]  # ends halfway into its last frame
    return await send(request, body, "audio/aac", truncate=sim.faults.truncate())


def _rendition_paths(entry: SpaceEntry, file: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (f"{entry.paths.rendition_dir(r)}/{file}", RENDITIONS[r]) for r in range(len(RENDITIONS))
    ]


async def video_master(request: web.Request) -> web.StreamResponse:
    sim, entry = _entry(request)
    name, state = request.match_info["file"], entry.space.state(sim.world.now())
    if entry.space.kind != "camera":
        raise web.HTTPNotFound()
    final = sim.world.playlist_id(entry, "final")
    if state is SpaceState.RUNNING and name in (
        "master_dynamic_playlist.m3u8",
        "master_master_playlist.m3u8",
    ):
        return _playlist(
            playlists.video_master(_rendition_paths(entry, "dynamic_playlist.m3u8?type=live"))
        )
    replay_names = (f"master_dynamic_{final}.m3u8", "master_master_playlist.m3u8")
    if state is SpaceState.ENDED and name in replay_names:
        return _playlist(
            playlists.video_master(_rendition_paths(entry, f"playlist_{final}.m3u8?type=replay"))
        )
    raise web.HTTPNotFound()


async def rendition_file(request: web.Request) -> web.StreamResponse:
    sim, entry = _entry(request)
    if entry.space.kind != "camera":
        return await audio_file(request)
    height = jwt_payload(request.match_info["jwt"]).get("Height")
    rendition = next((i for i, r in enumerate(RENDITIONS) if r["Height"] == height), None)
    if rendition is None:
        raise web.HTTPNotFound()
    maker, name, now = entry.renditions[rendition], request.match_info["file"], sim.world.now()
    if name == "dynamic_playlist.m3u8":
        if entry.space.state(now) is not SpaceState.RUNNING or entry.space.host_away(now):
            raise web.HTTPNotFound()
        return _playlist(
            playlists.live(
                _live_window(sim, entry),
                maker.timeline.extinf,
                lambda q: maker.name(q).replace("_a.aac", "_v.ts"),
                maker.pdt,
            )
        )
    final = sim.world.playlist_id(entry, "final")
    if (match := PLAYLIST_RE.match(name)) and match[1] == final:
        seqs = _list_seqs(sim, entry, "final")
        if seqs is not None:
            return _playlist(_vod(maker, seqs, "_v.ts"))
    if (match := CHUNK_RE.match(name)) and match[3] == "v.ts":
        seq, r = int(match[2]), RENDITIONS[rendition]
        if (
            seq >= sim.world.complete_chunks(entry)
            or maker.name(seq).replace("_a.aac", "_v.ts") != name
            or sim.faults.chunk_404()
            or seq in sim.faults.lost
        ):
            raise web.HTTPNotFound()
        card = Card(int(str(r["Width"])), int(str(r["Height"])), entry.space.host)
        body = await sim.segments.get(maker, seq, card)
        if seq in sim.faults.short:  # ends a few packets early, as a cut-short transfer would
            body = body[: (len(body) // TS_PACKET - SHORT_BY_PACKETS) * TS_PACKET]
        return await send(request, body, "video/mp2t", truncate=sim.faults.truncate())
    raise web.HTTPNotFound()


def routes() -> list[web.RouteDef]:
    nt = HLS + "/non_transcode/{region}/{deploy}"
    tr = HLS + "/transcode/{region}/{deploy}/{jwt}"
    return [
        web.get(nt + "/audio-space/{file}", audio_file),
        web.get(tr + "/audio-space/{file}", audio_file),
        web.get(nt + "/{file}", video_master),
        web.get(tr + "/{file}", rendition_file),
    ]
