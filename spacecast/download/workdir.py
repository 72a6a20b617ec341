"""The per-Space work directory that makes downloads resumable, and the atomic final file.

Layout under `<root>/<space id>/`:
  chunks.dat       cleaned chunks (ADTS frames only), appended as they arrive, in any order
  manifest.jsonl   one line per stored chunk (seq, frames, pts, EXTINF, offset, bytes), written
                   after its bytes are flushed; a chunk counts as stored only if its line is
                   whole and its bytes are in the data file, so a kill at any moment costs at
                   most the chunks in flight (bytes without a line are dead weight, never read)
One data file, not a file per chunk: creating and renaming thousands of small files costs more
than fetching them on a busy disk. Nothing of the Space is held in memory beyond this index.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class StoredChunk:
    seq: int
    frames: int
    pts: int | None
    duration: float  # EXTINF from the playlist that named the chunk
    bytes: int
    offset: int = 0  # where its bytes start in chunks.dat


class WorkDir:
    def __init__(self, root: Path, space_id: str) -> None:
        self.path = root / space_id
        self.path.mkdir(parents=True, exist_ok=True)
        self.data_path = self.path / "chunks.dat"
        self.manifest_path = self.path / "manifest.jsonl"
        self._data: IO[bytes] = self.data_path.open("ab")
        self.stored: dict[int, StoredChunk] = self._load()
        self.reused = len(self.stored)
        self._manifest: IO[str] = self.manifest_path.open("a", encoding="utf-8")
        self._reader: IO[bytes] | None = None

    def _load(self) -> dict[int, StoredChunk]:
        stored: dict[int, StoredChunk] = {}
        if not self.manifest_path.exists():
            return stored
        size = self.data_path.stat().st_size
        for line in self.manifest_path.read_text(encoding="utf-8").splitlines():
            try:
                chunk = StoredChunk(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a kill
            if chunk.offset + chunk.bytes <= size:
                stored[chunk.seq] = chunk
        return stored

    def has(self, seq: int) -> bool:
        return seq in self.stored

    def put(self, chunk: StoredChunk, audio: bytes) -> None:
        offset = self._data.seek(0, os.SEEK_END)
        self._data.write(audio)
        self._data.flush()
        chunk = replace(chunk, offset=offset, bytes=len(audio))
        self._manifest.write(json.dumps(vars(chunk), separators=(",", ":")) + "\n")
        self._manifest.flush()
        self.stored[chunk.seq] = chunk

    def read(self, seq: int) -> bytes:
        if self._reader is None:
            self._reader = self.data_path.open("rb")
        chunk = self.stored[seq]
        self._reader.seek(chunk.offset)
        return self._reader.read(chunk.bytes)

    def close(self) -> None:
        for handle in (self._data, self._manifest, self._reader):
            if handle is not None:
                handle.close()

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_parts(target: Path) -> None:
    """Temporary files a killed download left beside `target` (their process is gone)."""
    for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        pid = part.name[len(target.name) + 2 : -len(".part")]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` (the file is written there while the chunks arrive),
    renamed onto it only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        yield part
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
