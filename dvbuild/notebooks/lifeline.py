"""Children that die with their parent: a worker with dvbuild, a kernel with its worker.

`kill -9` of dvbuild gives it no chance to clean up, and an orphaned worker would
run its notebook on and later write over the next run's output. So each child
watches its own parent: on Linux the kernel tells a worker at once
(`prctl(PR_SET_PDEATHSIG)`), and everywhere a thread polls `getppid()`, which
changes when the parent is gone. A kernel is not given the prctl: it fires when
the *thread* that started the process exits, and the worker's library may start
kernels from a short-lived thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL = 0.5  # seconds between two looks at the parent

# What a kernel of a dvbuild worker runs (`python -c KERNEL_BOOT -f {connection_file}`):
# ipykernel, plus a watcher that kills the kernel's process group (its own session,
# with whatever the notebook started) once the worker that started it is gone.
# Standard library only, so a kernel does not import dvbuild for it.
KERNEL_BOOT = f"""\
import os, runpy, signal, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep({POLL})
    if os.getpgid(0) == os.getpid():
        os.killpg(0, signal.SIGKILL)
    os._exit(1)
threading.Thread(target=watch, daemon=True, name="dvbuild-lifeline").start()
sys.argv[0] = "ipykernel_launcher"
runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
"""


def parent_death_signal(sig: int) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def watch_parent(parent: int, on_gone: Callable[[], None]) -> None:
    """Call `on_gone` (from a daemon thread) once `parent` is no longer this process's
    parent, at once if it is already gone."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL)
        on_gone()

    threading.Thread(target=watch, daemon=True, name="dvbuild-lifeline").start()


def kill_groups(pids: Iterable[int]) -> None:
    """SIGKILL the process group each pid leads (a kernel and what its notebook started)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
