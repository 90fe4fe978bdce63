"""Test and production runs of packages' notebooks: copy, run on real kernels, report.

    prepare (parent)   validate -> secrets -> fresh copy at OUT/<name>/ -> job
    pool (parent)      jobs handed to worker processes, logs prefixed per package
    worker (child)     engine.run_notebook per notebook -> convert -> resources
    report (parent)    status, report.json (masked), a last masking sweep

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
    from dvbuild.notebooks.prepare import Prepared
    from dvbuild.notebooks.report import Report
    from dvbuild.secrets import SecretResolver

Resolvers = Mapping[str, "SecretResolver"]

Mode = Literal["test", "run"]
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
    from dvbuild.notebooks import pool, report
    from dvbuild.notebooks.prepare import check_out

    out = out.resolve()
    check_out(settings, packages, out)
    _claim(out)
    prepared = [_prepare(settings, p, out, mode, resolvers) for p in packages]
    tasks: list[pool.Task] = []
    for item in prepared:
        if item.job is None:
            report.write(item.report, item.dir)
            console.log(report.summary_line(item.report))
            continue
        tasks.append((item.job, _deadline(item), _sink(item, out), _on_done(item)))
    workers = jobs or os.cpu_count() or 1
    pool.run_jobs(tasks, workers, _worker_environ(settings))
    return [item.report for item in prepared]


def run_package(settings: Settings, package: Package, out: Path, *, mode: Mode,
                resolvers: Resolvers | None = None) -> Report:
    return test_packages(settings, [package], out, jobs=1, mode=mode, resolvers=resolvers)[0]


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
    from dvbuild.notebooks import prepare, report

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


def _sink(item: Prepared, out: Path) -> Callable[[str], None]:
    log_file = out / f"{item.package.name}.log"
    log_file.write_text("", encoding="utf-8")

    def sink(line: str) -> None:
        text = console.redact(line)
        with log_file.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        console.log(f"[{item.package.name}] {text}")

    return sink


def _on_done(item: Prepared) -> Callable[[dict[str, Any], float], None]:
    from dvbuild.notebooks import convert, report

    def done(result: dict[str, Any], seconds: float) -> None:
        report.finish(item.report, result, item.dir)
        item.report["duration"] = seconds
        convert.sweep(item.dir)
        report.write(item.report, item.dir)
        console.log(report.summary_line(item.report))

    return done


def _worker_environ(settings: Settings) -> dict[str, str]:
    # the worker needs the interpreter's environment (PATH, HOME, proxies), which its
    # kernels inherit, minus the CI machinery's own credentials
    environ = dict(settings.environ) if settings.environ else dict(os.environ)
    return {k: v for k, v in environ.items() if k not in CI_CREDENTIALS}
