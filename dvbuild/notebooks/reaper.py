"""Nothing a notebook started outlives its run, so nothing writes after the last sweep.

A kernel's child can leave the kernel's process group and session (`setsid`, a
double fork) and write a secret into the output folder once the kernel is gone.
The worker therefore makes itself a child subreaper (Linux `prctl`): orphans of
its kernels are reparented to it instead of to init, and after each notebook
every process below the worker is killed (`kill_descendants`). Before the final
sweep the parent also kills every process whose environment names the
package's output folder (`kill_marked`: the orphans of a worker that crashed or
was killed). Without /proc (macOS) only the kernel's process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PROC = Path("/proc")
WAIT = 5.0  # seconds to keep killing: a dying parent's children are reparented meanwhile
MARK = "DVBUILD_OUTPUT_DIR"  # in every kernel's environment, inherited by what it starts


def become_subreaper() -> bool:
    """Orphans below this process come to it, not to init (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process."""
    table: dict[int, int] = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
        if fields and fields[0] != "Z":
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(folder: Path) -> set[int]:
    """Processes (other than this one) whose environment says they work for `folder`."""
    needle = f"\0{MARK}={folder}\0".encode()
    found: set[int] = set()
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = b"\0" + (entry / "environ").read_bytes()
            except OSError:  # gone, or not ours to read
                continue
            if needle in environ:
                found.add(int(entry.name))
    return found


def kill_descendants(root: int | None = None) -> int:
    """SIGKILL every process below `root` (default: this process) until none is left."""
    top = root or os.getpid()
    return _kill_until_gone(lambda: descendants(top), reap=root is None)


def kill_marked(folder: Path) -> int:
    """SIGKILL every process working for `folder` (see `marked`) until none is left."""
    return _kill_until_gone(lambda: marked(folder), reap=False)


def _kill_until_gone(find: Callable[[], set[int]], *, reap: bool) -> int:
    killed: set[int] = set()
    end = time.monotonic() + WAIT
    while (found := find()) and time.monotonic() < end:
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed |= found
        if reap:  # only below this process: the parent never reaps its workers' status
            _reap()
        time.sleep(0.02)
    return len(killed)


def _reap() -> None:
    """Collect the orphans that came to this process (a subreaper) and died."""
    with contextlib.suppress(ChildProcessError, OSError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
