"""The per-Space work directory that makes downloads resumable, and the atomic final file.

Layout under `<root>/<space id>/`:
  chunks.dat       cleaned chunks (ADTS frames only), appended as they arrive, in any order
  video.dat        a camera Space's pictures: each segment's TS packets less its audio, the same
                   way (written before the chunk's audio)
  manifest.jsonl   one line per stored chunk (seq, frames, pts, EXTINF, offset, bytes, and the
                   picture's), written after its bytes are flushed; a chunk counts as stored
                   only if its line is whole and its bytes are in the data files, so a kill at
                   any moment costs at most the chunks in flight (bytes without a line are dead
                   weight, never read)
  media            what the chunks are of ("audio", or "camera 720": a camera Space's rendition);
                   chunks of another rendition are never joined with these, so a run that
                   records another one starts the directory afresh
  lock             held (flock) by the one download using the directory, with its pid inside;
                   the kernel lets go when that process dies, even by kill -9
One data file, not a file per chunk: creating and renaming thousands of small files costs more
than fetching them on a busy disk. Nothing of the Space is held in memory beyond this index.

A rerun trusts nothing it has not checked: each manifest entry it reuses must point at bytes
that are exactly its frames, back to back. Entries that do not (a disk that lost a write, two
downloads that shared the directory before it was locked) are dropped, fetched again, and the
manifest is written anew without them, so no work directory stays broken.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from spacecast.download import ts
from spacecast.download.chunks import frame_end
from spacecast.errors import ExitCode, UserError
from spacecast.logs import get_logger


@dataclass(frozen=True)
class StoredChunk:
    seq: int
    frames: int
    pts: int | None
    duration: float  # EXTINF from the playlist that named the chunk
    bytes: int
    offset: int = 0  # where its bytes start in chunks.dat
    cut: bool = False  # X served it cut short every time: its tail is a gap (join.tail_frames)
    # A camera Space's segment: its pictures, the first one's PTS, and its packets in video.dat.
    pictures: int = 0
    video_pts: int | None = None
    video_offset: int = 0
    video_bytes: int = 0


log = get_logger("spacecast.download")
VIDEO_FIELDS = ("pictures", "video_pts", "video_offset", "video_bytes")


def unusable(exc: OSError, what: str) -> OSError | UserError:
    """A path that cannot be written as one line (26); a full disk stays what it is (17)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return exc
    return UserError(f"cannot write {what}: {exc.strerror or exc}", ExitCode.PATH_UNUSABLE)


class WorkDirBusy(UserError):
    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(
            f"another download ({holder}) is using the work directory {path}; wait for it to "
            "end, or stop it",
            ExitCode.WORK_DIR_BUSY,
        )


class WorkDir:
    def __init__(self, root: Path, space_id: str) -> None:
        self.path = root / space_id
        self._lock: IO[str] | None = None
        self._reader: IO[bytes] | None = None
        self._video: IO[bytes] | None = None
        self._video_reader: IO[bytes] | None = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = _lock(self.path / "lock")
            self.data_path = self.path / "chunks.dat"
            self.video_path = self.path / "video.dat"
            self.manifest_path = self.path / "manifest.jsonl"
            self._data: IO[bytes] = self.data_path.open("ab")
            self.stored: dict[int, StoredChunk] = self._load()
            self._manifest: IO[str] = self.manifest_path.open("a", encoding="utf-8")
        except BaseException as exc:
            if self._lock is not None:  # a directory this run cannot use stays free
                self._lock.close()
            if isinstance(exc, OSError):  # a file where a directory should be, no permission
                raise unusable(exc, f"the work directory {self.path}") from None
            raise
        self.reused = len(self.stored)

    def _load(self) -> dict[int, StoredChunk]:
        if not self.manifest_path.exists():
            return {}
        lines = self.manifest_path.read_text(encoding="utf-8", errors="replace").splitlines()
        entries = [entry for line in lines if (entry := _entry(line)) is not None]
        stored: dict[int, StoredChunk] = {}
        video = self.video_path.open("rb") if self.video_path.exists() else None
        with self.data_path.open("rb") as data, video or contextlib.nullcontext():
            for chunk in reversed(entries):  # the last line that holds up wins
                if chunk.seq not in stored and _holds(data, chunk) and _holds_video(video, chunk):
                    stored[chunk.seq] = chunk
        if len(stored) != len(lines):  # dropped, repeated or unreadable lines: write it anew
            self._rewrite(sorted(stored.values(), key=lambda c: c.seq))
        return stored

    def _rewrite(self, chunks: Iterable[StoredChunk]) -> None:
        fresh = self.manifest_path.with_suffix(".tmp")
        fresh.write_text("".join(_line(c) for c in chunks), encoding="utf-8")
        fresh.replace(self.manifest_path)

    def claim(self, media: str) -> None:
        """Hold chunks of `media` only: those of anything else (a camera Space's other
        rendition) are dropped, since their pictures and sound cannot be joined with these."""
        path = self.path / "media"
        held = path.read_text(encoding="utf-8", errors="replace").strip() if path.exists() else ""
        if held and held != media and self.stored:
            log.warning("work directory held another rendition: starting afresh", held=held,
                        now=media, chunks=len(self.stored))  # fmt: skip
            for handle in (self._data, self._manifest):
                handle.truncate(0)
            if self._video is None:
                self._video = self.video_path.open("ab")
            self._video.truncate(0)
            self.stored, self.reused = {}, 0
        if held != media:
            fresh = path.with_suffix(".tmp")
            fresh.write_text(media + "\n", encoding="utf-8")
            fresh.replace(path)

    def has(self, seq: int) -> bool:
        return seq in self.stored

    def put(self, chunk: StoredChunk, audio: bytes, video: bytes = b"") -> None:
        if video:
            if self._video is None:
                self._video = self.video_path.open("ab")
            at = self._video.seek(0, os.SEEK_END)
            self._video.write(video)
            self._video.flush()
            chunk = replace(chunk, video_offset=at, video_bytes=len(video))
        offset = self._data.seek(0, os.SEEK_END)
        self._data.write(audio)
        self._data.flush()
        chunk = replace(chunk, offset=offset, bytes=len(audio))
        self._manifest.write(_line(chunk))
        self._manifest.flush()
        self.stored[chunk.seq] = chunk

    def read(self, seq: int) -> bytes:
        if self._reader is None:
            self._reader = self.data_path.open("rb")
        chunk = self.stored[seq]
        self._reader.seek(chunk.offset)
        return self._reader.read(chunk.bytes)

    def read_video(self, seq: int) -> bytes:
        chunk = self.stored[seq]
        if not chunk.video_bytes:
            return b""
        if self._video_reader is None:
            self._video_reader = self.video_path.open("rb")
        self._video_reader.seek(chunk.video_offset)
        return self._video_reader.read(chunk.video_bytes)

    def _files(self) -> list[IO[bytes] | IO[str] | None]:
        return [self._data, self._manifest, self._reader, self._video, self._video_reader]

    def close(self) -> None:
        for handle in [*self._files(), self._lock]:
            if handle is not None:
                handle.close()

    def remove(self) -> None:
        """Delete the directory, still holding its lock: a run that starts meanwhile finds it
        busy, never half deleted."""
        for handle in self._files():
            if handle is not None:
                handle.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self.close()


def _entry(line: str) -> StoredChunk | None:
    """A manifest line's chunk; None for a line cut short by a kill, or not ours."""
    try:
        chunk = StoredChunk(**json.loads(line))
    except (ValueError, TypeError):
        return None
    numbers = [chunk.seq, chunk.frames, chunk.offset, chunk.bytes, chunk.pictures]
    numbers += [chunk.video_offset, chunk.video_bytes]
    stamps = [s for s in (chunk.pts, chunk.video_pts) if s is not None]
    return chunk if all(type(n) is int for n in numbers + stamps) else None


def _line(chunk: StoredChunk) -> str:
    """An audio Space's lines stay as they were: the picture's fields only when there is one."""
    fields = (
        vars(chunk)
        if chunk.video_bytes
        else {k: v for k, v in vars(chunk).items() if k not in VIDEO_FIELDS}
    )
    return json.dumps(fields, separators=(",", ":")) + "\n"


def _holds(data: IO[bytes], chunk: StoredChunk) -> bool:
    """Whether the data file holds exactly `chunk.frames` ADTS frames at the chunk's place."""
    if chunk.offset < 0 or chunk.bytes <= 0:
        return False
    data.seek(chunk.offset)
    audio = data.read(chunk.bytes)
    pos, frames = 0, 0
    while pos < len(audio) and audio[pos] == 0xFF and (end := frame_end(audio, pos)) is not None:
        pos, frames = end, frames + 1
    return len(audio) == chunk.bytes and pos == chunk.bytes and frames == chunk.frames


def _holds_video(video: IO[bytes] | None, chunk: StoredChunk) -> bool:
    """Whether video.dat holds TS packets at the chunk's place (or it has no picture): its
    first and last packets begin with the sync byte, and the file reaches its end. Not every
    packet is read: a long camera Space keeps gigabytes there."""
    if not chunk.video_bytes:
        return True
    if video is None or chunk.video_offset < 0 or chunk.video_bytes % ts.PACKET:
        return False
    last = chunk.video_offset + chunk.video_bytes - ts.PACKET
    for at in (chunk.video_offset, last):
        video.seek(at)
        packet = video.read(ts.PACKET)
        if len(packet) != ts.PACKET or packet[0] != ts.SYNC:
            return False
    return True


def _lock(path: Path) -> IO[str]:
    """Hold the directory's lock for this process, or say who holds it (WorkDirBusy)."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read(32).strip()
        handle.close()
        who = f"pid {holder}" if holder.isdigit() else "pid unknown"
        raise WorkDirBusy(path.parent, who) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


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


def check_replaceable(target: Path) -> None:
    """Only a regular file is ever replaced: a device (`-o /dev/null --overwrite` as root would
    swap /dev/null for a file), a directory, a FIFO or a symlink is refused in one line."""
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise UserError(
            f"{target} is not a regular file: only regular files are replaced; choose another -o",
            ExitCode.PATH_UNUSABLE,
        )


@contextlib.contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` (the file is written there while the chunks arrive),
    renamed onto it only if the block succeeds. The place is tried first: a read-only file
    system or a directory that takes no files (/proc) is one line before any work, not after."""
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        check_replaceable(target)
        remove_stale_parts(target)
        part.open("wb").close()
    except OSError as exc:
        raise unusable(exc, str(exc.filename or target)) from None
    try:
        yield part
        check_replaceable(target)  # again: it may have changed during the download
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
