"""The per-Space work directory that makes downloads resumable, and the atomic final file.

Layout under `<root>/<space id>/`:
  chunks/<seq>.aac   one cleaned chunk (ADTS frames only), written to a temporary name and
                     renamed, so a file that exists is whole
  manifest.jsonl     one line per stored chunk (seq, frames, pts, EXTINF, bytes), appended after
                     the rename; a chunk counts as stored only when both agree, so a kill at any
                     moment costs at most the chunks in flight
Nothing of the Space is held in memory beyond this small index.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class StoredChunk:
    seq: int
    frames: int
    pts: int | None
    duration: float  # EXTINF from the playlist that named the chunk
    bytes: int


class WorkDir:
    def __init__(self, root: Path, space_id: str) -> None:
        self.path = root / space_id
        self.chunk_dir = self.path / "chunks"
        self.chunk_dir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.path / "manifest.jsonl"
        self.stored: dict[int, StoredChunk] = self._load()
        self.reused = len(self.stored)
        self._manifest: IO[str] = self.manifest_path.open("a", encoding="utf-8")

    def _load(self) -> dict[int, StoredChunk]:
        stored: dict[int, StoredChunk] = {}
        if not self.manifest_path.exists():
            return stored
        for line in self.manifest_path.read_text(encoding="utf-8").splitlines():
            try:
                chunk = StoredChunk(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a kill
            path = self.chunk_path(chunk.seq)
            if path.exists() and path.stat().st_size == chunk.bytes:
                stored[chunk.seq] = chunk
        return stored

    def chunk_path(self, seq: int) -> Path:
        return self.chunk_dir / f"{seq:07d}.aac"

    def has(self, seq: int) -> bool:
        return seq in self.stored

    def put(self, chunk: StoredChunk, audio: bytes) -> None:
        path = self.chunk_path(chunk.seq)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(audio)
        tmp.replace(path)
        self._manifest.write(json.dumps(asdict(chunk), separators=(",", ":")) + "\n")
        self._manifest.flush()
        self.stored[chunk.seq] = chunk

    def close(self) -> None:
        self._manifest.close()

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed onto it only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        yield part
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
