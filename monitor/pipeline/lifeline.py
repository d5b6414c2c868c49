"""Worker processes that end with the process that started them.

A `kill -9` (or the OOM killer) gives `monitor run --once` or `monitor serve` no chance to stop
its parse workers (`monitor.pipeline.cycle.parse_pool`). Left alone they wait on their task queue for
ever, adopted by init, and keep the dead run's stdout and stderr open, so whatever waits for the
end of those pipes (a shell pipeline, a supervisor, a test) waits with them (issue 16). A worker
therefore calls `die_with_parent` first: on Linux the kernel sends it SIGKILL when its parent
goes (`prctl(PR_SET_PDEATHSIG)`); elsewhere a daemon thread looks at its parent pid every second
(an orphan is adopted by another process, so the pid changes).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """End this process when its parent, `parent_pid` (read by the parent before it started this
    one), ends. The first thing a parse worker does (`monitor.pipeline.prepare.start_worker`).

    Linux sends the signal when the *thread* that started this process ends, not only the
    process: the pool must be started from a thread that lives as long as the pool (the event
    loop's, which submits to it)."""
    if not _set_parent_death_signal(signal.SIGKILL):
        _watch_parent(parent_pid)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed: nobody will send it
        os._exit(1)


def _set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send `signum` to this process when its parent ends; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result: int = libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):  # no C library to load, or no prctl in it
        return False
    return result == 0


def _watch_parent(parent_pid: int, every: float = WATCH_SECONDS) -> None:
    """The portable fallback: a daemon thread that ends the process once it has been orphaned."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
