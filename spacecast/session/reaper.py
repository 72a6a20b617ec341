"""What a supervisor killed outright leaves behind, cleaned up.

The session's children die with it whatever kills it (PR_SET_PDEATHSIG, `spacecast.children`;
Chromium with Playwright's driver, whose pipe breaks). Files cannot: the runtime folder holds
the browser profile, and the profile holds the burner account's cookies. So before anything
else the supervisor starts a reaper in a session of its own, holding the read end of a pipe
whose write end only the supervisor has (`commands.reaper`). A clean end writes "done" and the
reaper leaves; any other end closes the pipe (the kernel does it for a dead process), and the
reaper removes the folder: the whole runtime folder when the session made it, else the
browser profile inside the one it was given.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from spacecast.session import commands


class Reaper:
    def __init__(self, path: Path) -> None:
        read, self._write = os.pipe()
        try:
            command = commands.reaper(str(path))
            self._proc = subprocess.Popen(
                command.argv,
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # not in our group: a kill of our group spares it
                close_fds=True,
            )
        finally:
            os.close(read)
        # The write end is not inheritable (PEP 446): no other child holds it open, so its
        # EOF is ours.

    def done(self) -> None:
        """The session cleaned up itself: the reaper has nothing to do."""
        with contextlib.suppress(OSError):
            os.write(self._write, b"done\n")
            os.close(self._write)
