"""The worker pool's backstop: a worker that overstays its deadline is killed together
with its kernel, reported, and a fresh worker takes the next job."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

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
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    environ = {**os.environ, "TMPDIR": str(tmp)}
    worker = pool.Worker(environ)
    hung = job(tmp_path / "hung", "hung", ("import time", "time.sleep(3600)"), timeout=3600)
    # the in-worker watchdog would wait an hour: the parent's deadline must act
    results["hung"] = worker.run(hung, 15, logs.append)
    kernels += list(worker.kernels)
    assert "killed" in results["hung"]
    assert kernels and not any(alive(pid) for pid in kernels)
    assert not worker.alive
    killed = [r for r in tmp.glob("dvbuild-worker-*") if (r / "pid").read_text() == str(worker.proc.pid)]
    assert killed  # SIGKILLed: it could not remove its temp folder itself
    tasks: list[pool.Task] = [(job(tmp_path / "ok", "ok", ("x = 1",), 60), 300, logs.append,
                               lambda r, s: results.update(ok=r))]
    pool.run_jobs(tasks, 1, environ)
    assert results["ok"]["notebooks"][0]["status"] == "passed"
    assert not killed[0].exists()  # the next worker swept it (its pid is dead)
    assert not list(tmp.glob("dvbuild-worker-*"))  # and that one removed its own


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


def stderr_cells(tag: str, lines: int) -> tuple[str, ...]:
    """Cells whose last act writes lines straight to the kernel's stderr (fd 2, which the
    kernel shares with its worker): what a C library or a crashing kernel prints."""
    return ("x = 1", f"import os\nfor i in range({lines}): os.write(2, f'{tag} line {{i}}\\n'.encode())")


def test_a_jobs_last_stderr_lines_are_never_credited_to_the_next_job(tmp_path: Path) -> None:
    # the log reader is slow here (a busy parent): the first job's result comes long before
    # its stderr is read, and the worker is already running the second job
    seen: dict[str, list[str]] = {"first": [], "second": []}

    class Slow:
        def __init__(self, name: str) -> None:
            self.name = name

        def __call__(self, line: str) -> None:  # stderr lines, from the log reader
            time.sleep(0.5)
            seen[self.name].append(line)

        def progress(self, text: str) -> None:  # progress events: in order with the result
            pass

    tasks: list[pool.Task] = [
        (job(tmp_path / n, n, stderr_cells(n, 3), 60), 300, Slow(n), lambda r, s: None)
        for n in ("first", "second")]
    pool.run_jobs(tasks, 1, os.environ)  # one worker: the second job follows the first
    for name, lines in seen.items():
        mine = [ln for ln in lines if " line " in ln]
        assert mine == [f"{name} line {i}" for i in range(3)], seen


def test_the_kernels_shutdown_interrupt_line_is_dropped_other_lines_kept(tmp_path: Path) -> None:
    # jupyter_client SIGINTs every kernel it shuts down; the line ipykernel may log for it
    # is dropped (here written to fd 2 by the cell itself, as the kernel would)
    cell = ("import os\n"
            "os.write(2, b'[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.\\n')\n"
            "os.write(2, b'[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel\\n')\n"
            "os.write(2, b'[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel. later\\n')\n"
            "os.write(2, b'kept line\\n')")
    lines: list[str] = []
    tasks: list[pool.Task] = [(job(tmp_path / "a", "a", (cell,), 60), 300, lines.append,
                               lambda r, s: None)]
    pool.run_jobs(tasks, 1, os.environ)
    assert "kept line" in lines, lines
    assert "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel. later" in lines
    assert not [ln for ln in lines if ln in pool.SHUTDOWN_NOISE], lines


def test_many_packages_in_parallel_each_line_under_its_own_package(
        tmp_path: Path, capsys: Any) -> None:
    import json
    import subprocess

    from dvbuild import notebooks
    from dvbuild.package import discover
    from dvbuild.settings import load_settings

    names = [f"pkg-{i:02d}" for i in range(12)]
    for name in names:
        folder = tmp_path / "repo" / name
        folder.mkdir(parents=True)
        # the notebook's own name says whose it is: every line naming it must be its package's
        (folder / f"nb_{name}.ipynb").write_text(notebook(*stderr_cells(name, 2)))
        (folder / "datapackage.json").write_text(json.dumps({"name": name, "resources": []}))
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path / "repo", check=True)
    settings = load_settings(tmp_path / "repo", environ={})
    out = tmp_path / "out"
    reports = notebooks.test_packages(settings, discover(tmp_path / "repo"), out, jobs=4)
    assert {r["status"] for r in reports} == {"passed"}
    err = capsys.readouterr().err
    credited = [ln for ln in err.splitlines() if ln.startswith("[pkg-")]
    assert len(credited) >= len(names) * 5  # 2 cells, 2 stderr lines, the notebook's end
    for line in credited:
        prefix, _, text = line.partition("] ")
        owner = prefix[1:]
        others = [n for n in names if n != owner and n in text]
        assert owner in text and not others, line
    for name in names:  # the per-package log files are routed the same way
        lines = (out / f"{name}.log").read_text().splitlines()
        assert f"{name} line 1" in lines and all(name in ln for ln in lines), lines


# --- signals: a stopped or killed `dvbuild test` leaves no worker or kernel behind ----

def _marked(mark: str) -> list[int]:
    """Live processes whose environment holds `mark` (dvbuild, its workers, their kernels)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if mark.encode() in environ and alive(int(entry)):
            found.append(int(entry))
    return found


def _start_slow_test(tmp_path: Path, mark: str, ignore_sigint: bool = False) -> Any:
    import json
    import signal
    import subprocess
    import sys

    folder = tmp_path / "repo" / "slow"
    folder.mkdir(parents=True)
    (folder / "datapackage.json").write_text(json.dumps({"name": "slow", "resources": []}))
    (folder / "main.ipynb").write_text(notebook(
        "open('started', 'w').close()", "import time\ntime.sleep(60)"))
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path / "repo", check=True)
    started = tmp_path / "out" / "slow" / "started"
    with (tmp_path / "stderr").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from dvbuild.cli import main; sys.exit(main())",
             "test", "--repo", str(tmp_path / "repo"), "--out", str(tmp_path / "out")],
            env={**os.environ, "DVBUILD_TEST_MARK": mark}, stdout=subprocess.DEVNULL,
            stderr=err,
            # a background job of a shell script starts with SIGINT ignored
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint
            else None)
    end = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < end, (tmp_path / "stderr").read_text()
        time.sleep(0.2)
    return proc


def _gone_within(mark: str, seconds: float) -> list[int]:
    end = time.monotonic() + seconds
    while _marked(mark) and time.monotonic() < end:
        time.sleep(0.2)
    return _marked(mark)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
@pytest.mark.parametrize(("how", "code"), [
    ("SIGINT", 130), ("SIGTERM", 143), ("SIGKILL", -9), ("SIGINT-ignored", 130)])
def test_a_stopped_run_leaves_no_worker_or_kernel(tmp_path: Path, how: str, code: int) -> None:
    import signal
    import uuid

    mark = f"dvbuild-signal-{uuid.uuid4().hex}"
    proc = _start_slow_test(tmp_path, mark, ignore_sigint=how.endswith("-ignored"))
    try:
        assert len(_marked(mark)) >= 3  # dvbuild, a worker, a kernel
        sent = time.monotonic()
        proc.send_signal(getattr(signal, how.removesuffix("-ignored")))
        # bounds on a hang (the notebook sleeps 60 s), not speed targets
        assert proc.wait(timeout=30) == code
        assert time.monotonic() - sent < 30
        assert _gone_within(mark, 20) == []
    finally:
        proc.kill()
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_rerun_after_kill_9_is_not_disturbed(tmp_path: Path) -> None:
    import signal
    import uuid

    from dvbuild import notebooks
    from dvbuild.package import discover
    from dvbuild.settings import load_settings

    mark = f"dvbuild-signal-{uuid.uuid4().hex}"
    proc = _start_slow_test(tmp_path, mark)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (tmp_path / "repo" / "slow" / "main.ipynb").write_text(notebook("x = 'rerun'"))
    settings = load_settings(tmp_path / "repo", environ={})
    reports = notebooks.test_packages(settings, discover(tmp_path / "repo"),
                                      tmp_path / "out", jobs=1)
    assert reports[0]["status"] == "passed"
    executed = tmp_path / "out" / "slow" / "main.ipynb"
    before = executed.read_text()
    assert _gone_within(mark, 20) == []
    time.sleep(1)  # an orphan of the killed run would write its timeout over these
    assert executed.read_text() == before and "rerun" in before and "Timeout" not in before
