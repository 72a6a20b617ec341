"""Progress: a bar on a terminal (chunks, bytes, rate, ETA, retries, missing chunks), log lines
otherwise, or nothing. Retries and missing chunks are logged as they happen, whatever the kind:
a run that is waiting on X says so."""

from __future__ import annotations

import sys
import time
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichBar

from spacecast.logs import get_logger

log = get_logger("spacecast.download")
LOG_EVERY_S = 5.0


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} GB"


class Progress(Protocol):
    def add_total(self, chunks: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def status(self, text: str) -> None: ...
    def retry(self, what: str, why: str) -> None: ...
    def missing(self, seq: int) -> None: ...
    def recovered(self, seq: int, nbytes: int) -> None: ...
    def close(self) -> None: ...


class Counter:
    """What every progress display counts."""

    def __init__(self) -> None:
        self.total = self.done = self.bytes = self.retries = 0
        self.gone: set[int] = set()  # chunks missing for now
        self.started = time.monotonic()

    def rate(self) -> float:
        return self.bytes / max(1e-6, time.monotonic() - self.started)


class NoProgress(Counter):
    def add_total(self, chunks: int) -> None:
        self.total += chunks

    def advance(self, nbytes: int) -> None:
        self.done += 1
        self.bytes += nbytes
        self._changed()

    def status(self, text: str) -> None:
        log.info("stage", stage=text)

    def retry(self, what: str, why: str) -> None:
        self.retries += 1
        log.info("retrying", what=what, why=why)
        self._changed()

    def missing(self, seq: int) -> None:
        self.gone.add(seq)
        log.warning("chunk missing: X answers 404", seq=seq, missing=len(self.gone))
        self._changed()

    def recovered(self, seq: int, nbytes: int) -> None:
        self.gone.discard(seq)
        self.bytes += nbytes
        log.info("chunk found after all", seq=seq, missing=len(self.gone))
        self._changed()

    def _changed(self) -> None:
        """After every count that a display shows has changed (a bar redraws itself)."""

    def trouble(self) -> str:
        """Retries and missing chunks so far, for a display ("" while there are none)."""
        parts = [f"{self.retries} retries"] if self.retries else []
        return "  ".join(parts + ([f"{len(self.gone)} missing"] if self.gone else []))

    def close(self) -> None:
        pass


class LogProgress(NoProgress):
    def __init__(self) -> None:
        super().__init__()
        self._last = 0.0

    def advance(self, nbytes: int) -> None:
        super().advance(nbytes)
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_S or self.done == self.total:
            self._last = now
            log.info(
                "progress",
                chunks=self.done,
                of=self.total,
                bytes=self.bytes,
                rate_bps=round(self.rate()),
            )


class BarProgress(NoProgress):
    def __init__(self) -> None:
        super().__init__()
        self._bar = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks  {task.fields[transfer]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task("download", total=None, transfer="")
        self._bar.start()

    def add_total(self, chunks: int) -> None:
        super().add_total(chunks)
        self._bar.update(self._task, total=self.total)

    def _changed(self) -> None:
        transfer = f"{human_bytes(self.bytes)} at {human_bytes(self.rate())}/s"
        if trouble := self.trouble():
            transfer += f"  {trouble}"
        self._bar.update(self._task, completed=self.done, transfer=transfer)

    def status(self, text: str) -> None:
        self._bar.update(self._task, description=text)

    def close(self) -> None:
        self._bar.stop()


def make_progress(kind: str) -> NoProgress:
    if kind == "auto":
        kind = "bar" if sys.stderr.isatty() else "log"
    return {"bar": BarProgress, "log": LogProgress, "none": NoProgress}[kind]()
