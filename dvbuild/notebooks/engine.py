"""Run one notebook with papermill on a real kernel, under a wall-clock timeout.

papermill only knows per-cell timeouts, so a watchdog thread kills the kernel's
process group when the whole notebook overstays; nbclient then sees a dead
kernel and papermill returns what ran so far, which we mark. A kernel that
loses the race for its ZMQ ports before running anything is started again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvbuild.notebooks import outcome

DEFAULT_KERNEL = "python3"
ENV_KERNEL = "dvbuild"  # a package environment's own kernelspec (envs.py)
PYTHON_KERNELS = (DEFAULT_KERNEL, ENV_KERNEL)
START_TIMEOUT = 60
START_ATTEMPTS = 3
QUIET_LOGGERS = ("papermill", "traitlets", "nbclient")


@dataclass
class NotebookRun:
    path: str
    status: str = "passed"  # passed | failed | timed_out
    duration: float = 0.0
    error: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    nb: Any = None  # the executed NotebookNode


class Watchdog:
    """Kills the kernel's process group once the deadline passes."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.pid: int | None = None
        self.fired = False
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._wait, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _wait(self) -> None:
        if self.done.wait(self.timeout):
            return
        self.fired = True
        while not self.done.is_set():
            self.kill()
            self.done.wait(0.5)

    def kill(self) -> None:
        if self.pid is None:
            return
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
                return
            except (ProcessLookupError, PermissionError, OSError):
                continue

    def stop(self) -> None:
        self.done.set()
        if self._thread.is_alive():
            self._thread.join()


def choose_kernel(nb: Any, display: str, python: str = DEFAULT_KERNEL) -> tuple[str, list[str]]:
    """The notebook's kernel if installed here, else `python` (the package's Python
    kernel). With a package environment, a Python kernel of another name runs there too."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = (nb.metadata.get("kernelspec") or {}).get("name")
    if not name:
        return python, [f"{display}: no kernelspec in the notebook; ran on {DEFAULT_KERNEL}"]
    if name in (DEFAULT_KERNEL, python):
        return python, []
    installed = KernelSpecManager().find_kernel_specs()
    if name not in installed:
        return python, [f"{display}: kernel {name!r} is not installed here; ran on {DEFAULT_KERNEL}"]
    if python != DEFAULT_KERNEL and _spec_language(Path(installed[name])) == "python":
        return python, [f"{display}: kernel {name!r} is a Python kernel; ran on the package's "
                        "environment"]
    return str(name), []


def _spec_language(folder: Path) -> str:
    import json

    try:
        return str(json.loads((folder / "kernel.json").read_text(encoding="utf-8"))["language"]).lower()
    except (OSError, ValueError, KeyError, TypeError):
        return ""  # its start will say what is wrong with it


def read_notebook(path: Path) -> Any:
    """The notebook, or None when it cannot be read (its run reports why)."""
    try:
        return read_v4(path)
    except Exception:
        return None


def read_v4(path: Path) -> Any:
    """The notebook as nbformat 4, whatever version it was saved in. nbformat converts a
    v2/v3 notebook but hands back the old version's NotebookNode class, which papermill
    does not recognise (it takes it for a path: `AttributeError: format`)."""
    import nbformat as nbformat_module

    nbformat: Any = nbformat_module
    return nbformat.from_dict(nbformat.read(str(path), as_version=4))


def defined_parameters(nb: Any) -> set[str] | None:
    """Names the notebook's `parameters` cell assigns; None without such a cell. Raises
    when papermill cannot parse the cell (its own run will say more)."""
    import copy

    from papermill.inspection import _infer_parameters

    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
        return None
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    kernel = (nb.metadata.get("kernelspec") or {}).get("name")
    return {p.name for p in _infer_parameters(nb, name=kernel or DEFAULT_KERNEL, language="python")}


def parameter_warnings(notebooks: list[tuple[str, Any]], parameters: dict[str, Any]) -> list[str]:
    """Every notebook of a package gets all its parameters, so a name is suspect (a typo in
    `test_parameters` silently runs the full data) only when no notebook defines it."""
    if not parameters:
        return []
    warnings, known = [], set()
    for display, nb in notebooks:
        try:
            names = defined_parameters(nb)
        except Exception:  # unreadable notebook or cell: cannot tell, say nothing
            return []
        if names is None:
            warnings.append(f"{display}: no cell tagged 'parameters'; parameters injected at the top: "
                            + ", ".join(sorted(parameters)))
        else:
            known |= names
    unknown = sorted(set(parameters) - known)
    if unknown and not warnings:  # only when every notebook says what it takes
        where = f"{notebooks[0][0]}: " if len(notebooks) == 1 else ""
        warnings.append(f"{where}parameter(s) not defined in any 'parameters' cell: " + ", ".join(unknown))
    return warnings


def _tracked_km(on_start: Callable[[Any], None]) -> type:
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            await super().start_kernel(**kw)
            on_start(self)

    return TrackedKernelManager


@dataclass
class _State:
    nb: Any = None
    running: Any = None
    replies: dict[int, Any] = field(default_factory=dict)


def run_notebook(path: Path, display: str, *, parameters: dict[str, Any], timeout: float,
                 log: Callable[[str], None], on_kernel: Callable[[int], None],
                 timeout_field: str = "timeout", python: str = DEFAULT_KERNEL) -> NotebookRun:
    """Execute `path` in place (cwd = its folder); the executed notebook is in the result.
    `timeout_field` names the setting the timeout came from, for the message; `python`
    is the kernel Python notebooks run on (ENV_KERNEL: the package's environment)."""
    source = read_v4(path)
    run = NotebookRun(path=display)
    kernel, run.warnings = choose_kernel(source, display, python)
    outcome.tag_sources(source)
    total = len(source.cells)
    start = time.monotonic()
    for attempt in range(1, START_ATTEMPTS + 1):
        state = _State()
        exc = _execute(source, path, kernel, parameters, timeout, state, log, on_kernel, total, start)
        if not _lost_start(exc, state) or attempt == START_ATTEMPTS:
            break
        log(f"{display}: kernel did not start ({type(exc).__name__}: {exc}); retrying")
    run.duration = round(time.monotonic() - start, 3)
    _conclude(run, state, exc, f"the {timeout_field} of {timeout:g} s")
    return run


def _lost_start(exc: BaseException | None, state: _State) -> bool:
    """A kernel that never ran a cell failed to start: worth another try (ZMQ port race)."""
    if exc is None or state.nb is not None:
        return False
    import zmq

    return isinstance(exc, RuntimeError | TimeoutError | OSError | zmq.ZMQError)


class _Timeout(Exception):
    pass


def _execute(source: Any, path: Path, kernel: str, parameters: dict[str, Any], timeout: float,
             state: _State, log: Callable[[str], None], on_kernel: Callable[[int], None],
             total: int, start: float) -> BaseException | None:
    import copy

    import papermill

    # the clock starts once the kernel answers: start-up has its own timeout, and a slow
    # start on a busy CI machine must not eat the notebook's time
    dog = Watchdog(timeout)

    def kernel_started(km: Any) -> None:
        dog.pid = getattr(km.provisioner, "pid", None)
        if dog.pid is not None:
            on_kernel(dog.pid)

    def cell_started(cell: Any, cell_index: int) -> None:
        state.running = cell
        index = outcome.source_index(cell)
        where = "injected parameters" if index is None else f"cell {index + 1}/{total}"
        log(f"{path.name}: {where} (elapsed {time.monotonic() - start:.1f}s)")

    def cell_failed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        state.replies[id(cell)] = (execute_reply or {}).get("content", {})

    def notebook_started(notebook: Any) -> None:
        state.nb = notebook
        dog.start()

    quiet = _AfterTimeout(dog)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    try:
        papermill.execute_notebook(
            copy.deepcopy(source), None, parameters=parameters or None, kernel_name=kernel,
            language=_language(source, kernel),
            progress_bar=False, cwd=str(path.parent), start_timeout=START_TIMEOUT,
            request_save_on_cell_execute=False, kernel_manager_class=_tracked_km(kernel_started),
            on_cell_start=cell_started, on_cell_error=cell_failed,
            on_notebook_start=notebook_started, shutdown_kernel="immediate",
            **_quiet_kernel(kernel),
        )
    except Exception as e:
        return _Timeout() if dog.fired else e
    finally:
        dog.stop()
        for name in QUIET_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)
    return _Timeout() if dog.fired else None


class _AfterTimeout(logging.Filter):
    """Once the watchdog has killed the kernel, nbclient's "Kernel died while waiting for
    execute reply" is our own doing: the run reports the timeout instead."""

    def __init__(self, dog: Watchdog) -> None:
        super().__init__()
        self.dog = dog

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.dog.fired and "Kernel died" in record.getMessage())


def _language(nb: Any, kernel: str) -> str | None:
    # papermill needs a language to write parameters; a bare notebook on python3 is Python
    known = (nb.metadata.get("kernelspec") or {}).get("language") or (
        nb.metadata.get("language_info") or {}).get("name")
    return None if known or kernel not in PYTHON_KERNELS else "python"


def _quiet_kernel(kernel: str) -> dict[str, Any]:
    # ipykernel's own start-up warnings on the kernel's stderr are noise in a CI log;
    # what the notebook prints arrives through the notebook, not through stderr
    return {"extra_arguments": ["--IPKernelApp.log_level=ERROR"]} if kernel in PYTHON_KERNELS else {}


def _conclude(run: NotebookRun, state: _State, exc: BaseException | None, limit: str) -> None:
    nb = state.nb  # None when the kernel never came up: the source file stays as it was
    if isinstance(exc, _Timeout):
        run.status = "timed_out"
        run.error = outcome.mark_stopped(nb, state.running, "Timeout",
                                         outcome.timeout_message(state.running, limit))
    elif nb is None:
        run.status = "failed"
        run.error = {"cell_index": None, "cell_number": None, "source": "",
                     "ename": type(exc).__name__, "evalue": str(exc), "traceback": ""}
    else:
        run.error = outcome.find_error(nb, state.replies)
        if run.error is None and exc is not None and not _is_execution_error(exc):
            run.error = outcome.mark_stopped(nb, state.running, type(exc).__name__,
                                             _describe(exc))
        if run.error is not None:
            run.status = "failed"
        stop = outcome.find_clean_exit(nb)
        if run.status == "passed" and stop is not None:
            index, raised = stop
            where = "the injected parameters" if index is None else f"cell {index + 1}"
            run.warnings.append(f"{run.path}: stopped at {where} by {raised}; "
                                "the cells after it did not run")
    if nb is not None:
        outcome.untag_sources(nb)
    run.nb = nb


def _is_execution_error(exc: BaseException) -> bool:
    from papermill.exceptions import PapermillExecutionError

    return isinstance(exc, PapermillExecutionError)


def _describe(exc: BaseException) -> str:
    from nbclient.exceptions import DeadKernelError

    if isinstance(exc, DeadKernelError):
        return "the kernel died while running this cell (it exited or was killed)"
    return str(exc)
