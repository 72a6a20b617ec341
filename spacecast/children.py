"""Child processes that cannot outlive their parent, for every part that starts processes
(the session's supervisor, devcluster's components).

PR_SET_PDEATHSIG asks the kernel to SIGKILL the child when its parent dies, however it died:
no atexit hook runs after a SIGKILL, so nothing else could. The kernel ties it to the forking
*thread*, so it is only set when forking from the main thread (elsewhere the child would die
with that thread); asyncio forks from its loop's thread, the main one in every command here.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in the child between fork and exec."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def preexec(any_thread: bool = False) -> Callable[[], None] | None:
    """The `preexec_fn` for a child that must die with us; None off the main thread, unless
    the caller's thread lives exactly as long as the child should (`any_thread`)."""
    main = threading.current_thread() is threading.main_thread()
    return die_with_parent if main or any_thread else None
