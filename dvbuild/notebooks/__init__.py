"""Test and production runs of packages' notebooks: copy, run on real kernels, report.

    prepare (parent)   validate -> secrets -> fresh copy at OUT/<name>/ -> job
    envs (parent)      a test run's lock and environment per package, just before its job
    pool (parent)      jobs handed to worker processes, logs prefixed per package
    progress (parent)  plain lines in CI, a live display on a terminal
    worker (child)     engine.run_notebook per notebook -> convert -> resources
    report (parent)    status, report.json (masked), a last sweep (leaks.py): mask,
                       scan, and fail the package if a secret would leak

`test_packages` and `run_package` are what other steps call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dvbuild import console
from dvbuild.package import Package
from dvbuild.settings import Settings

if TYPE_CHECKING:
    from dvbuild.notebooks import pool
    from dvbuild.notebooks.prepare import Prepared
    from dvbuild.notebooks.progress import Display
    from dvbuild.notebooks.report import Report
    from dvbuild.secrets import SecretResolver

Resolvers = Mapping[str, "SecretResolver"]

Mode = Literal["test", "run"]
Runner = Callable[[Settings, list[Package], Path], list["Report"]]
WORKER_GRACE = 120.0  # kernel start, conversion and resource checks on top of the timeouts
# credentials of the CI machinery, not of the package: a notebook (maybe from a pull
# request) never sees them unless its `secrets` map them explicitly
CI_CREDENTIALS = (
    "GITHUB_TOKEN", "INPUT_GITHUB_TOKEN", "INPUT_GITHUB-TOKEN", "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_CACHE_URL",
    "ACTIONS_RESULTS_URL", "VAULT_TOKEN", "DVBUILD_REGISTRY_PASSWORD", "DVBUILD_NOTIFY_WEBHOOK",
    "DVBUILD_TEST_GITHUB_TOKEN",
)


def test_packages(settings: Settings, packages: list[Package], out: Path, *,
                  jobs: int | None = None, mode: Mode = "test",
                  resolvers: Resolvers | None = None) -> list[Report]:
    """Run every package (in parallel processes); each report is also OUT/<name>/report.json."""
    from dvbuild.notebooks import pool, progress, report
    from dvbuild.notebooks.prepare import check_out

    out = out.resolve()
    check_out(settings, packages, out)
    _claim(out)
    prepared = [_prepare(settings, p, out, mode, resolvers) for p in packages]
    runnable = [item for item in prepared if item.job is not None]
    for item in prepared:
        if item.job is None:  # its status line is the command's to print
            report.write(item.report, item.dir)
    display = progress.open_display(live=console.interactive(settings.environ),
                                    total=len(runnable))
    tasks: list[pool.Task] = [(item.job, _deadline(item), _sink(item, out, display),
                               _on_done(item, display)) for item in runnable if item.job]
    workers = jobs or os.cpu_count() or 1
    setup = _environments(settings, runnable) if own_envs(settings, mode) else None
    try:
        pool.run_jobs(tasks, workers, _worker_environ(settings), setup)
    finally:
        display.close()
    return [item.report for item in prepared]


def test_in_layers(settings: Settings, packages: list[Package], out: Path, *,
                   upstream_store: str, upstream_catalog: str | None = None,
                   jobs: int | None = None, commit: str | None = None,
                   runner: Runner | None = None) -> list[Report]:
    """Test runs in `reads` order: a package runs after the selected packages it reads.
    `runner` runs one layer (default: test_packages here; `test --image`: in images).
    The passed outputs a later layer reads are published (as test output) to
    `upstream_store`, which that layer's read_dp reads first ($DVBUILD_READ_FIRST):
    a downstream test sees what its upstream's test just made."""
    from dvbuild.api.read import FIRST_ENV
    from dvbuild.package import read_layers

    layers = read_layers(packages)
    reports: list[Report] = []
    later = settings._replace(environ={**settings.environ, FIRST_ENV: upstream_store})
    for i, layer in enumerate(layers):
        chosen = later if i else settings
        reports += (runner(chosen, layer, out) if runner
                    else test_packages(chosen, layer, out, jobs=jobs))
        read = {name for rest in layers[i + 1:] for p in rest for name in p.reads}
        _publish_read(settings, out, layer, reports, read, upstream_store, upstream_catalog, commit)
    return reports


def _publish_read(settings: Settings, out: Path, layer: list[Package], reports: list[Report],
                  read: set[str], store: str, catalog: str | None, commit: str | None) -> None:
    from dvbuild import publish

    passed = {r["package"] for r in reports if r.get("status") == "passed"}
    dirs = [out.resolve() / p.name for p in layer if p.name in read and p.name in passed]
    if dirs:
        console.log(f"publishing {', '.join(d.name for d in dirs)} to {store} first: "
                    "packages tested next read them")
        publish.publish_dirs(dirs, store, catalog, environ=settings.environ, commit=commit,
                             allow_test_output=True)


def run_package(settings: Settings, package: Package, out: Path, *, mode: Mode,
                resolvers: Resolvers | None = None) -> Report:
    return test_packages(settings, [package], out, jobs=1, mode=mode, resolvers=resolvers)[0]


def own_envs(settings: Settings, mode: Mode) -> bool:
    """A test run gives each package its own environment (envs.py). A production run,
    any run inside a built image (its venv is the package's environment) and the escape
    hatch DVBUILD_SHARED_ENV=1 run the kernels on dvbuild's own interpreter."""
    from dvbuild.notebooks import envs

    return mode == "test" and not settings.image.ref and not envs.shared(settings.environ)


def _environments(settings: Settings, runnable: list[Prepared]) -> pool.Setup:
    """The step before a package's job goes to a worker (in the pool's thread for it, so
    packages wait only for their own environment): lock, env, OUT/<name>/requirements.lock,
    and the env's kernel in the job. A failure fails that package alone, with the
    resolver's message."""
    from dvbuild.errors import DvbuildError
    from dvbuild.notebooks import envs
    from dvbuild.notebooks.prepare import clear

    items = {item.package.name: item for item in runnable}
    python = envs.running_python()
    try:  # the cache's housekeeping (once a day): never what fails a test run
        envs.prune(settings.environ, log=console.log)
    except OSError as e:
        console.log(f"warning: environments were not pruned: {e}")

    def setup(job: dict[str, Any], sink: pool.LogSink) -> dict[str, Any] | None:
        item = items[job["name"]]
        progress = getattr(sink, "progress", sink)
        try:
            lock = envs.lock_for(item.package, python=python, environ=settings.environ, log=progress)
            env = envs.ensure_env(lock, environ=settings.environ, log=progress)
        except DvbuildError as e:
            for line in str(getattr(e, "detail", e)).splitlines():
                sink(line)
            clear(item.dir)  # as after any failure before a kernel: report.json alone
            return {"environment": e.message}
        envs.write_lock(lock, item.dir)
        item.baseline[envs.LOCK_FILE] = lock.sha256  # dvbuild's, not the run's: not swept
        job["kernel"] = env.as_job()
        return None

    return setup


def _claim(out: Path) -> None:
    # OUT holds copies of datapackage.json: keep git (and so package discovery) out of it,
    # but never drop a .gitignore into a folder that was already in use
    fresh = not out.exists() or not any(out.iterdir())
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        (out / ".gitignore").write_text("*\n", encoding="utf-8")


def _prepare(settings: Settings, package: Package, out: Path, mode: Mode,
             resolvers: Resolvers | None) -> Prepared:
    from dvbuild import secrets as secrets_mod
    from dvbuild.notebooks import leaks, prepare, report

    item = prepare.Prepared(package, out / package.name, prepare.base_report(settings, package, mode))
    problems = prepare.validation_problems(settings, package, mode)
    if problems:
        return _failed_early(item, "invalid", "; ".join(problems))
    chosen = resolvers or secrets_mod.default_resolvers(settings.config.vault, settings.environ)
    try:
        values = secrets_mod.resolve_secrets(package.secrets, chosen)
    except secrets_mod.SecretError as e:
        return _failed_early(item, "failed", f"{e.message} (no notebook was run)")
    item.dir = prepare.fresh_copy(package, out)
    item.secrets, item.baseline = values, leaks.baseline(item.dir)
    item.report["warnings"] += leaks.warnings(values)
    report.write(item.report, item.dir)  # marks the folder as dvbuild's from the start
    item.job = prepare.make_job(settings, package, item.dir, mode, values)
    return item


def _failed_early(item: Prepared, status: str, message: str) -> Prepared:
    from dvbuild.notebooks.prepare import clear

    clear(item.dir)  # no stale package directory that publish could pick up
    item.report.update({"status": status, "error": message})
    return item


def _deadline(item: Prepared) -> float:
    assert item.job is not None
    return len(item.job["notebooks"]) * (float(item.job["timeout"]) + WORKER_GRACE)


class _Sink:
    """A package's worker output: every line into OUT/<name>.log, and to the display
    (progress lines, `.progress`, say where the run is; the rest is logged)."""

    def __init__(self, name: str, log_file: Path, display: Display) -> None:
        self.name, self.log_file, self.display = name, log_file, display
        log_file.write_text("", encoding="utf-8")

    def _keep(self, line: str) -> str:
        text = console.redact(line)
        with self.log_file.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        return text

    def __call__(self, line: str) -> None:
        self.display.log(self.name, self._keep(line))

    def progress(self, text: str) -> None:
        self.display.progress(self.name, self._keep(text))


def _sink(item: Prepared, out: Path, display: Display) -> _Sink:
    return _Sink(item.package.name, out / f"{item.package.name}.log", display)


def _on_done(item: Prepared, display: Display) -> Callable[[dict[str, Any], float], None]:
    from dvbuild.notebooks import leaks, reaper, report

    def done(result: dict[str, Any], seconds: float) -> None:
        report.finish(item.report, result, item.dir, item.package.reads)
        item.report["duration"] = seconds
        reaper.kill_marked(item.dir)  # a crashed worker's orphans write nothing more
        leaks.sweep(item.dir, item.report, item.secrets, item.baseline)  # may fail it
        report.write(item.report, item.dir)
        display.finished(item.package.name, item.report["status"])

    return done


def _worker_environ(settings: Settings) -> dict[str, str]:
    # the worker needs the interpreter's environment (PATH, HOME, proxies), which its
    # kernels inherit, minus the CI machinery's own credentials
    environ = dict(settings.environ) if settings.environ else dict(os.environ)
    return {k: v for k, v in environ.items() if k not in CI_CREDENTIALS}
