"""Everything the simulator serves: its Spaces, their clock, chunk makers and paths."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from simulator import audio, video
from simulator.chunks import ChunkMaker, Timeline
from simulator.clock import SimClock
from simulator.model import DEFAULT_SPACES, Space, SpaceSpec, SpaceState, parse_disconnect
from simulator.settings import SimulatorSettings
from simulator.urls import RENDITIONS, SpacePaths, playlist_id

GUESTS = audio.SPEAKERS[1:]
PROFILE_IMAGES = "https://pbs.twimg.com/profile_images"
RENDITION_TONES_HZ = (1000, 1500)  # renditions 1 and 2; rendition 0 carries the speech


def _periscope_id(name: str) -> str:
    return "1" + hashlib.sha256(name.encode()).hexdigest()[:12]


def hydra_participants(seed: int) -> list[dict[str, object]]:
    """The guests on stage as the Hydra tags list them (the host is implied)."""
    return [
        {
            "ParticipantIndex": i + 1,
            "ProfileUrl": f"{PROFILE_IMAGES}/{i + 1}/{name}_reasonably_small.jpg",
            "SessionId": hashlib.md5(f"{seed}:{name}".encode()).hexdigest(),
            "UserId": _periscope_id(name),
            "UserName": name,
        }
        for i, name in enumerate(GUESTS)
    ]


@dataclass
class SpaceEntry:
    space: Space
    paths: SpacePaths
    chunks: ChunkMaker
    # Camera Spaces: one chunk maker per rendition (0 speaks, the others hum).
    renditions: list[ChunkMaker] = field(default_factory=list)


class World:
    def __init__(self, settings: SimulatorSettings, clock: SimClock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SimClock(settings.speed)
        specs = [SpaceSpec.parse(s) for s in settings.space] or list(DEFAULT_SPACES)
        disconnects = [parse_disconnect(d) for d in settings.host_disconnect]
        now = self.clock.now()
        self.entries: dict[str, SpaceEntry] = {}
        for index, spec in enumerate(specs):
            space = Space.from_spec(spec, index, settings.seed, now)
            space.disconnects = list(disconnects)
            self.entries[space.id] = self._entry(space, index)

    def _entry(self, space: Space, index: int) -> SpaceEntry:
        seed = self.settings.seed
        participants = hydra_participants(seed)

        # A camera Space's segments are cut at its video's keyframes (simulator/video.py).
        timeline = Timeline("", video.SEGMENT_S if space.kind == "camera" else None)
        main = ChunkMaker(
            space.id, seed, space.starts_at, audio.speech(), participants, timeline=timeline
        )
        main.silent = space.silent_at
        main.pts_early_ticks = round(self.settings.pts_early_ms * 90)
        entry = SpaceEntry(space, SpacePaths(seed, space.id, index), main)
        if space.kind == "camera":
            # Every rendition shares the main timeline; the others carry a steady tone each.
            entry.renditions = [main] + [
                ChunkMaker(
                    f"{space.id}/r{r}",
                    seed,
                    space.starts_at,
                    audio.tone(hz),
                    participants,
                    timeline=main.timeline,
                    pts_early_ticks=main.pts_early_ticks,
                )
                for r, hz in zip(range(1, len(RENDITIONS)), RENDITION_TONES_HZ, strict=False)
            ]
        return entry

    def now(self) -> float:
        return self.clock.now()

    def cards(self) -> list[tuple[int, int, str]]:
        """(width, height, host) of every camera Space's renditions: the card loops served."""
        return sorted({
            (int(str(r["Width"])), int(str(r["Height"])), e.space.host)
            for e in self.entries.values() if e.space.kind == "camera" for r in RENDITIONS
        })  # fmt: skip

    def by_id(self, space_id: str) -> SpaceEntry | None:
        return self.entries.get(space_id)

    def by_media_key(self, media_key: str) -> SpaceEntry | None:
        return next((e for e in self.entries.values() if e.space.media_key == media_key), None)

    def by_token(self, token: str) -> SpaceEntry | None:
        return next((e for e in self.entries.values() if e.paths.token == token), None)

    def restart_clock_for(self, entry: SpaceEntry) -> None:
        """Keep chunk timing in step after a Space's start moved (started or ended by hand)."""
        for maker in [entry.chunks, *entry.renditions]:
            maker.started_at = entry.space.starts_at

    # What the CDN shows at this moment.
    def complete_chunks(self, entry: SpaceEntry, at: float | None = None) -> int:
        now = self.now() if at is None else at
        return entry.chunks.timeline.complete(entry.space.elapsed(now))

    def snapshot(self, entry: SpaceEntry) -> int | str:
        """Which chunk list the master points at: a numbered snapshot while live, then final."""
        now = self.now()
        if entry.space.state(now) is SpaceState.ENDED:
            return "final"
        return int(entry.space.elapsed(now) // self.settings.snapshot_every_s)

    def playlist_id(self, entry: SpaceEntry, snapshot: int | str) -> str:
        return playlist_id(self.settings.seed, entry.space.id, snapshot)

    def resolve_playlist_id(self, entry: SpaceEntry, pid: str) -> int | str | None:
        current = self.snapshot(entry)
        if current == "final" and pid == self.playlist_id(entry, "final"):
            return "final"
        last = int(entry.space.elapsed(self.now()) // self.settings.snapshot_every_s)
        return next((k for k in range(last, -1, -1) if self.playlist_id(entry, k) == pid), None)
