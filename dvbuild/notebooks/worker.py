"""A worker process: runs packages' notebooks, one package at a time, for the parent.

Protocol: one JSON job per line on stdin; JSON events per line on the private
copy of stdout (`{"event": "kernel", "pid": N}`, `{"event": "progress", "text": "main.ipynb:
cell 2/5 (elapsed 1.2s)"}`, `{"event": "done", "result": {...}}`). File descriptor 1 is
pointed at stderr so nothing a library prints can corrupt the protocol. Anything
else on stderr is logged; the parent prefixes it with the package name. Running
many packages in one long-lived worker imports papermill and nbconvert once, not
once per notebook.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from dvbuild import console
from dvbuild.notebooks import convert, engine, lifeline, outcome, reaper
from dvbuild.notebooks.resources import check_resources

END_OF_JOB = "\x1edvbuild: end of job"  # on stderr, before each "done" event
KERNELS: set[int] = set()  # the running job's kernels, killed when the worker is stopped


def writable_dirs(root: Path) -> None:
    """Jupyter and IPython write connection files and profiles below $HOME; in a container
    with a read-only root file system (a hardened Naisjob) that fails, so use temp dirs."""
    home = Path(os.environ.get("HOME") or "/nonexistent")
    if os.access(home, os.W_OK):
        return
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")):
        if not os.environ.get(var):
            (root / sub).mkdir(exist_ok=True)
            os.environ[var] = str(root / sub)


def install_kernelspec(root: Path) -> None:
    """Make `python3` mean this interpreter, whatever the machine has registered:
    JUPYTER_PATH comes first in jupyter's search path."""
    spec = root / "kernels" / engine.DEFAULT_KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        # ipykernel, ending with this worker (see lifeline.KERNEL_BOOT)
        "argv": [sys.executable, "-c", lifeline.KERNEL_BOOT, "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python",
        "metadata": {"debugger": False},
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(root), old]))


def run_job(job: dict[str, Any], send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    for value in job.get("secrets", []):
        console.mask(value)
    saved = dict(os.environ)
    os.environ.update(job["env"])
    use_env(job.get("kernel"))
    try:
        return _run_notebooks(job, send)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def use_env(kernel: dict[str, str] | None) -> None:
    """The package's environment (envs.py) for this job: its kernelspec first on
    JUPYTER_PATH, and its bin/ first on PATH, for what a notebook starts itself."""
    if not kernel:
        return
    for var, first in (("JUPYTER_PATH", kernel["jupyter_path"]),
                       ("PATH", os.path.join(kernel["prefix"], "bin"))):
        os.environ[var] = os.pathsep.join(filter(None, [first, os.environ.get(var)]))
    os.environ["VIRTUAL_ENV"] = kernel["prefix"]


def _run_notebooks(job: dict[str, Any], send: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    folder = Path(job["dir"])
    originals = {p for p in folder.rglob("*") if p.is_file()}  # never overwritten by a script
    notebooks: list[dict[str, Any]] = []
    warnings = engine.parameter_warnings(
        [(rel, engine.read_notebook(folder / rel)) for rel in job["notebooks"]], job["parameters"])
    stopped = False

    def progress(text: str) -> None:  # the parent's display shows it (plain or live)
        send({"event": "progress", "text": text})

    for rel in job["notebooks"]:
        if stopped:
            notebooks.append(_entry(rel, "skipped"))
            continue
        run = engine.run_notebook(
            folder / rel, rel, parameters=job["parameters"], timeout=job["timeout"],
            log=progress, on_kernel=lambda pid: send({"event": "kernel", "pid": pid}),
            timeout_field=job.get("timeout_field", "timeout"),
            python=(job.get("kernel") or {}).get("name", engine.DEFAULT_KERNEL),
        )
        reaper.kill_descendants()  # what the kernel started (setsid too) writes nothing more
        outcome.add_hint(run.error, str(job.get("path", ".")))
        warnings += run.warnings
        entry = _entry(rel, run.status, run.duration, run.error)
        if run.nb is not None:
            try:
                html, script, written = convert.write_outputs(run.nb, folder / rel, originals)
                entry.update(html=_sibling(rel, html), script=_sibling(rel, script))
                warnings += written
            except Exception as e:  # a rendering failure must not hide the run's result
                first = (str(e).splitlines() or [""])[0]
                warnings.append(f"{rel}: could not write the executed notebook: "
                                f"{type(e).__name__}: {first}")
        progress(f"{rel}: {run.status} in {run.duration:.1f}s" + _why(run))
        notebooks.append(entry)
        stopped = run.status != "passed"
    return {"notebooks": notebooks, "warnings": warnings, "resources": _resources(folder)}


def _why(run: engine.NotebookRun) -> str:
    if run.status == "timed_out" and run.error:
        return f": {run.error['evalue']}"
    return ""


def _entry(rel: str, status: str, duration: float = 0.0,
           error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"path": rel, "status": status, "duration": duration, "html": None, "script": None,
            "error": error}


def _sibling(rel: str, name: str) -> str:
    parent = Path(rel).parent
    return name if str(parent) == "." else (parent / name).as_posix()


def _resources(folder: Path) -> list[dict[str, Any]]:
    try:
        descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return check_resources(folder, descriptor) if isinstance(descriptor, dict) else []


def log(message: str) -> None:
    console.log(message)


def serve(jobs: TextIO, proto: TextIO) -> None:
    def send(event: dict[str, Any]) -> None:
        if event.get("event") == "kernel":
            KERNELS.add(int(event["pid"]))
        proto.write(json.dumps(convert.redact_tree(event), default=str) + "\n")
        proto.flush()

    for line in jobs:
        if not line.strip():
            continue
        KERNELS.clear()  # the last job's kernels were shut down (a pid may be reused)
        try:
            result = run_job(json.loads(line), send)
        except Exception as e:  # report it to the parent instead of dying mid-protocol
            import traceback

            log(traceback.format_exc())
            result = {"crash": f"{type(e).__name__}: {e}"}
        end_of_job()
        send({"event": "done", "result": result})


def end_of_job() -> None:
    """Everything this job wrote to stderr, then the mark: the parent credits each line
    before the mark to this job's package, not to the next one's."""
    sys.stdout.flush()  # fd 1 is stderr too, but block-buffered
    sys.stderr.write(END_OF_JOB + "\n")
    sys.stderr.flush()


def die_with_parent(parent: int, root: Path) -> None:
    """SIGTERM (dvbuild's, or Linux's when dvbuild died) or the parent gone: kill this
    job's kernels and exit at once; an orphan would write over the next run's output."""
    def stop(*_: object) -> None:
        import shutil

        lifeline.kill_groups(list(KERNELS))
        shutil.rmtree(root, ignore_errors=True)
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)
    lifeline.parent_death_signal(signal.SIGTERM)
    lifeline.watch_parent(parent, stop)  # also when it died before the line above


ROOT_PREFIX = "dvbuild-worker-"


def sweep_dead_roots(tmp: Path) -> None:
    """The temp folders of workers that were killed (a notebook's deadline SIGKILLs its
    worker, which cannot clean up): each names its worker's pid; a dead pid's goes."""
    import shutil

    for root in tmp.glob(ROOT_PREFIX + "*"):
        try:
            pid = int((root / "pid").read_text())
        except (OSError, ValueError):
            continue  # not one of ours, or one being made right now
        if not _alive(pid):
            shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def main() -> None:
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    logging.getLogger("papermill").setLevel(logging.ERROR)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    reaper.become_subreaper()  # a kernel's orphans come to this worker, which kills them
    root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
    (root / "pid").write_text(str(os.getpid()))
    sweep_dead_roots(root.parent)
    # the pool passes its pid: getppid() here could already be init's
    die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid(), root)
    writable_dirs(root)
    install_kernelspec(root)
    try:
        serve(sys.stdin, proto)
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
