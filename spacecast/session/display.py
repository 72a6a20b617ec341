"""Xvfb, the virtual display Chromium renders on and ffmpeg grabs. Ready when its socket
accepts connections; a lock left by a crashed server (neko#591's black screen) is removed
first when its owner is gone."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from spacecast.session import commands
from spacecast.session.process import ManagedProcess

X_SOCKETS = Path("/tmp/.X11-unix")


def lock_owner(display: str) -> int | None:
    """The pid in the display's lock file (Xvfb writes its own there), or None."""
    try:
        return int(Path(f"/tmp/.X{display.lstrip(':')}-lock").read_text().strip())
    except (OSError, ValueError):
        return None


def clear_stale_lock(display: str) -> None:
    lock = Path(f"/tmp/.X{display.lstrip(':')}-lock")
    if (pid := lock_owner(display)) is None:
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        lock.unlink(missing_ok=True)
        (X_SOCKETS / f"X{display.lstrip(':')}").unlink(missing_ok=True)
    except PermissionError:
        pass  # alive, someone else's: Xvfb will refuse and say so


class Display(ManagedProcess):
    name = "xvfb"

    def __init__(self, display: str, width: int, height: int) -> None:
        super().__init__(lambda: commands.xvfb(display, width, height))
        self.display = display

    async def ready(self) -> None:
        clear_stale_lock(self.display)  # no-op once our server holds the lock
        socket_path = X_SOCKETS / f"X{self.display.lstrip(':')}"
        for _ in range(200):
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise RuntimeError(
                    f"Xvfb exited with {self.proc.returncode} (display {self.display} in use?)"
                )
            # The socket may be another server's (the display is taken): ours holds the lock.
            if lock_owner(self.display) == self.proc.pid:
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_unix_connection(str(socket_path))
                    writer.close()
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"Xvfb did not open {socket_path}")

    async def start(self) -> None:
        clear_stale_lock(self.display)
        await super().start()
