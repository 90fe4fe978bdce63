"""The worker pool's backstop: a worker that overstays its deadline is killed together
with its kernel, reported, and a fresh worker takes the next job."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dvbuild.notebooks import pool
from tests.test_notebooks import notebook


def job(folder: Path, name: str, cells: tuple[str, ...], timeout: float) -> dict[str, Any]:
    folder.mkdir(parents=True)
    (folder / "main.ipynb").write_text(notebook(*cells))
    return {"name": name, "dir": str(folder), "notebooks": ["main.ipynb"], "parameters": {},
            "timeout": timeout, "env": {"DVBUILD_OUTPUT_DIR": str(folder)}, "secrets": []}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return False


def test_deadline_kills_worker_and_kernel_then_next_job_runs(tmp_path: Path) -> None:
    results: dict[str, Any] = {}
    logs: list[str] = []
    kernels: list[int] = []
    worker = pool.Worker(os.environ)
    hung = job(tmp_path / "hung", "hung", ("import time", "time.sleep(3600)"), timeout=3600)
    # the in-worker watchdog would wait an hour: the parent's deadline must act
    results["hung"] = worker.run(hung, 15, logs.append)
    kernels += list(worker.kernels)
    assert "killed" in results["hung"]
    assert kernels and not any(alive(pid) for pid in kernels)
    assert not worker.alive
    tasks: list[pool.Task] = [(job(tmp_path / "ok", "ok", ("x = 1",), 60), 300, logs.append,
                               lambda r, s: results.update(ok=r))]
    pool.run_jobs(tasks, 1, os.environ)
    assert results["ok"]["notebooks"][0]["status"] == "passed"


def test_kernel_is_gone_after_a_notebook_timeout(tmp_path: Path) -> None:
    worker = pool.Worker(os.environ)
    try:
        result = worker.run(job(tmp_path / "t", "t", ("import time", "time.sleep(3600)"), 2), 300,
                            lambda line: None)
        pids = list(worker.kernels)
        assert pids
        assert result["notebooks"][0]["status"] == "timed_out"
        time.sleep(0.5)
        assert not any(alive(pid) for pid in pids)
    finally:
        worker.close()


def test_kernel_that_cannot_start_is_retried_then_reported(tmp_path: Path,
                                                           monkeypatch: Any) -> None:
    import json
    import sys

    from dvbuild.notebooks import engine

    spec = tmp_path / "jupyter" / "kernels" / "broken"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "import sys; sys.exit(3)", "{connection_file}"],
        "display_name": "broken", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = tmp_path / "nb" / "main.ipynb"
    nb.parent.mkdir()
    nb.write_text(notebook("x = 1", kernel="broken"))
    lines: list[str] = []
    run = engine.run_notebook(nb, "main.ipynb", parameters={}, timeout=60, log=lines.append,
                              on_kernel=lambda pid: None)
    assert run.status == "failed" and run.nb is None
    assert run.error is not None and "died" in run.error["evalue"].lower()
    assert sum("retrying" in line for line in lines) == engine.START_ATTEMPTS - 1
