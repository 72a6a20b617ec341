"""Fault decisions, one seeded random stream so a run with the same seed misbehaves the same
way. Which chunks carry stray bytes is a property of the chunk (it never changes on retry);
404s and truncation are per request (a retry may succeed), as on X's CDN."""

from __future__ import annotations

import hashlib
import random

from simulator.settings import SimulatorSettings


class Faults:
    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self.missing = frozenset(settings.missing_chunks)
        self.lost = frozenset(settings.lost_chunks)
        self.short = frozenset(settings.short_chunks)

    def chunk_404(self) -> bool:
        return self._rng.random() < self.settings.chunk_404_rate

    def truncate(self) -> bool:
        return self._rng.random() < self.settings.truncate_rate

    def stray_bytes(self, space_id: str, seq: int) -> bool:
        digest = hashlib.sha256(f"{self.settings.seed}:{space_id}:{seq}:stray".encode()).digest()
        return int.from_bytes(digest[:4]) / 2**32 < self.settings.stray_bytes_rate
