"""What a test run shows while it runs, on stderr.

    plain (CI, pipes, logs)   one line per cell and per notebook: `[name] main.ipynb: cell 2/5 …`
    live (a terminal)         rich, redrawn in place: a header with the count of packages done,
                              then one line per running package with its notebook and cell

Each package's status line is printed once, after the run, by the command
(`test`: its summary lines; `local`: its table), never here. Every line also
goes to `OUT/<name>.log`, whichever display is on.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from dvbuild import console

ELAPSED_RE = re.compile(r" \(elapsed [0-9.]+s\)$")


class Display(Protocol):
    def progress(self, name: str, text: str) -> None:
        """Where a package is now (`main.ipynb: cell 2/5 (elapsed 1.2s)`)."""

    def log(self, name: str, line: str) -> None:
        """Anything else its worker said."""

    def finished(self, name: str, status: str | None) -> None: ...

    def close(self) -> None: ...


class Plain:
    def progress(self, name: str, text: str) -> None:
        console.log(f"[{name}] {text}")

    def log(self, name: str, line: str) -> None:
        console.log(f"[{name}] {line}")

    def finished(self, name: str, status: str | None) -> None:
        pass

    def close(self) -> None:
        pass


class Running(NamedTuple):
    started: float  # time.monotonic() when its first line came
    text: str  # the last progress line


def live_lines(running: Mapping[str, Running], *, done: int, failed: int, total: int,
               now: float, width: int = 100) -> list[str]:
    """The live display's lines (pure): a header, then one line per running package."""
    head = f"dvbuild: {done} of {total} package(s) done" + (f", {failed} failed" if failed else "")
    lines = [head + (f", {len(running)} running" if running else "")]
    pad = max((len(n) for n in running), default=0)
    for name, r in sorted(running.items()):
        line = f"  {name:<{pad}}  {ELAPSED_RE.sub('', r.text) or 'starting'}  {now - r.started:.0f}s"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    return lines


class Live:
    """A rich live display: redrawn a few times a second, gone when the run ends
    (the command prints the results)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.live import Live as RichLive

        self.total, self.done, self.failed = total, 0, 0
        self.running: dict[str, Running] = {}
        self.lock = threading.Lock()
        self.console = Console(stderr=True, highlight=False)
        self.live = RichLive(console=self.console, get_renderable=self._render,
                             refresh_per_second=4, transient=True, redirect_stdout=False)
        self.live.start()

    def _render(self) -> Any:
        from rich.text import Text

        with self.lock:
            lines = live_lines(self.running, done=self.done, failed=self.failed,
                               total=self.total, now=time.monotonic(), width=self.console.width)
        return Text(console.redact("\n".join(lines)), no_wrap=True, overflow="ellipsis")

    def progress(self, name: str, text: str) -> None:
        with self.lock:
            started = self.running[name].started if name in self.running else time.monotonic()
            self.running[name] = Running(started, text)

    def log(self, name: str, line: str) -> None:
        console.log(f"[{name}] {line}")  # printed above the live lines

    def finished(self, name: str, status: str | None) -> None:
        with self.lock:
            self.running.pop(name, None)
            self.done += 1
            self.failed += status != "passed"

    def close(self) -> None:
        self.live.stop()


def open_display(*, live: bool, total: int) -> Display:
    return Live(total) if live and total else Plain()
