"""Worker processes in the parent: hand out jobs, forward logs, enforce a hard deadline.

Each worker is `python -m dvbuild.notebooks.worker` in its own session. The
notebook timeout is enforced inside the worker; the deadline here is the
backstop for a worker that itself stops answering: its process group and every
kernel it reported are killed, and a fresh worker takes the next job. SIGINT or
SIGTERM kills every worker and kernel before dvbuild exits; when dvbuild is killed
outright (kill -9), the workers and kernels end themselves (lifeline.py).
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
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from dvbuild import console
from dvbuild.notebooks.worker import END_OF_JOB

LogSink = Callable[[str], None]
DRAIN_TIMEOUT = 10.0  # seconds to wait for a job's last stderr lines after its result
# jupyter_client sends a kernel SIGINT before every shutdown request (KernelManager.
# shutdown_kernel); an ipykernel still inside a message handler then logs one of these.
# dvbuild never interrupts a cell (a timeout kills the kernel), so they only ever say
# "the kernel was shut down" and are dropped, not shown as an error in a passed run's log.
SHUTDOWN_NOISE = frozenset(f"[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel{end}"
                           for end in ("", "."))


class Worker:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            # our pid: the worker ends when we do, even by kill -9 (see lifeline.py)
            [sys.executable, "-m", "dvbuild.notebooks.worker", str(os.getpid())],
            env=dict(environ),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        self.kernels: set[int] = set()
        self.sink: LogSink = console.log
        self.drained = threading.Event()  # the job's stderr is read up to its END_OF_JOB
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
            text = line.rstrip("\n")
            if text == END_OF_JOB:
                self.drained.set()
            elif text not in SHUTDOWN_NOISE:
                self.sink(text)
        self.drained.set()

    def run(self, job: dict[str, Any], deadline: float, sink: LogSink) -> dict[str, Any]:
        """The job's result, or {"crash": ...} / {"killed": ...} when the worker failed."""
        self.sink = sink
        self.drained.clear()
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
            elif event.get("event") == "progress":  # where the run is: `sink.progress`, if any
                getattr(sink, "progress", sink)(str(event.get("text", "")))
            elif event.get("event") == "done":
                # stderr and the events are two pipes read by two threads: without this
                # wait, the job's last stderr lines could reach the next job's sink
                self.drained.wait(DRAIN_TIMEOUT)
                return dict(event["result"])

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        from dvbuild.notebooks.reaper import kill_descendants

        kill_descendants(self.proc.pid)  # kernels and what they started, setsid or not
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
# run in the parent before a job goes to a worker (it may add to the job): None to go on,
# else the job's result (the job is not run)
Setup = Callable[[dict[str, Any], LogSink], "dict[str, Any] | None"]


def run_jobs(tasks: list[Task], jobs: int, environ: Mapping[str, str],
             setup: Setup | None = None) -> None:
    """Run (job, deadline, log sink, on_result) tasks on up to `jobs` workers, each after
    its `setup` (in the task's own thread: one slow setup holds up no other task). SIGINT
    and SIGTERM stop every worker and kernel at once, then exit 130 / 143."""
    pending: queue.Queue[Task] = queue.Queue()
    for t in tasks:
        pending.put(t)
    live: list[Worker] = []
    stopping = threading.Event()
    threads = [threading.Thread(target=_serve, args=(pending, environ, live, stopping, setup),
                                daemon=True)
               for _ in range(max(1, min(jobs, len(tasks))))]
    for thread in threads:
        thread.start()
    try:
        with _stop_on_signals(stopping):
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)  # a bounded join lets the signal handlers run
    except BaseException:
        # workers run in their own sessions, so they did not get the SIGINT: stop them
        # and their kernels here, or they would run on after dvbuild has gone
        stopping.set()
        for worker in list(live):
            worker.kill()
        raise


@contextlib.contextmanager
def _stop_on_signals(stopping: threading.Event) -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt (exit 130) even when it came in ignored (a
    background job of a script), SIGTERM SystemExit(143); once each, so a second Ctrl-C
    cannot cut the cleanup short. Only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)

    saved = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _serve(pending: queue.Queue[Task], environ: Mapping[str, str], live: list[Worker],
           stopping: threading.Event, setup: Setup | None = None) -> None:
    worker: Worker | None = None
    try:
        while not stopping.is_set():
            try:
                job, deadline, sink, done = pending.get_nowait()
            except queue.Empty:
                return
            started = _now()
            try:
                result = setup(job, sink) if setup else None
                if stopping.is_set():  # stopped while it set up: start no worker now
                    return
                if result is None:
                    if worker is None or not worker.alive:
                        worker = Worker(environ)
                        live.append(worker)
                    result = worker.run(job, deadline, sink)
            except Exception as e:  # the pool keeps going; this package reports the failure
                result = {"crash": f"{type(e).__name__}: {e}"}
            if stopping.is_set():  # interrupted: no report of a run that was cut short
                return
            done(result, round(_now() - started, 3))
    finally:
        if worker is not None:
            worker.close()
