"""Worker processes in the parent: hand out jobs, forward logs, enforce a hard deadline.

Each worker is `python -m dvbuild.notebooks.worker` in its own session. The
notebook timeout is enforced inside the worker; the deadline here is the
backstop for a worker that itself stops answering: its process group and every
kernel it reported are killed, and a fresh worker takes the next job.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

from dvbuild import console

LogSink = Callable[[str], None]


class Worker:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dvbuild.notebooks.worker"], env=dict(environ),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        self.kernels: set[int] = set()
        self.sink: LogSink = console.log
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_logs, daemon=True).start()

    def _read_events(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.sink(line.rstrip("\n"))
        self.events.put(None)

    def _read_logs(self) -> None:
        stream: IO[str] | None = self.proc.stderr
        assert stream is not None
        for line in stream:
            self.sink(line.rstrip("\n"))

    def run(self, job: dict[str, Any], deadline: float, sink: LogSink) -> dict[str, Any]:
        """The job's result, or {"crash": ...} / {"killed": ...} when the worker failed."""
        self.sink = sink
        self.kernels.clear()  # the previous job's kernels are gone: it finished or was killed
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except OSError as e:
            return {"crash": f"worker not answering: {e}"}
        end = _now() + deadline
        while True:
            try:
                event = self.events.get(timeout=max(0.0, end - _now()))
            except queue.Empty:
                self.kill()
                return {"killed": f"no result within {deadline:g} s; the worker and its kernels were killed"}
            if event is None:
                code = self.proc.wait()
                return {"crash": f"the notebook worker exited with code {code}"}
            if event.get("event") == "kernel":
                self.kernels.add(int(event["pid"]))
            elif event.get("event") == "done":
                return dict(event["result"])

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        for pid in (*self.kernels, self.proc.pid):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def _now() -> float:
    import time

    return time.monotonic()


# (job, deadline in seconds, log sink, on_result(result, seconds the job ran))
Task = tuple[dict[str, Any], float, LogSink, Callable[[dict[str, Any], float], None]]


def run_jobs(tasks: list[Task], jobs: int, environ: Mapping[str, str]) -> None:
    """Run (job, deadline, log sink, on_result) tasks on up to `jobs` workers."""
    pending: queue.Queue[Task] = queue.Queue()
    for t in tasks:
        pending.put(t)
    live: list[Worker] = []
    threads = [threading.Thread(target=_serve, args=(pending, environ, live), daemon=True)
               for _ in range(max(1, min(jobs, len(tasks))))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # a bounded join lets Ctrl-C through
    except BaseException:
        # workers run in their own sessions, so they did not get the SIGINT: stop them
        # and their kernels here, or they would run on after dvbuild has gone
        for worker in list(live):
            worker.kill()
        raise


def _serve(pending: queue.Queue[Task], environ: Mapping[str, str], live: list[Worker]) -> None:
    worker: Worker | None = None
    try:
        while True:
            try:
                job, deadline, sink, done = pending.get_nowait()
            except queue.Empty:
                return
            started = _now()
            if worker is None or not worker.alive:
                worker = Worker(environ)
                live.append(worker)
            try:
                result = worker.run(job, deadline, sink)
            except Exception as e:  # the pool keeps going; this package reports the failure
                result = {"crash": f"{type(e).__name__}: {e}"}
            done(result, round(_now() - started, 3))
    finally:
        if worker is not None:
            worker.close()
