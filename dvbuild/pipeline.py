"""The whole pipeline as one readable sequence, for `dvbuild local`.

    detect -> validate -> test -> build (if an engine answers) -> publish -> render -> report

Everything lands below OUT and nothing leaves the machine:

    OUT/packages/<name>/   test runs: report.json, executed notebooks, HTML, resources
    OUT/store/             file:// store (kept between runs, so the next comment shows changes)
    OUT/catalog/           file:// catalog (kept too)
    OUT/manifests/         Naisjob manifests of scheduled packages
    OUT/comment.md         the PR comment, as GitHub would show it
    OUT/summary.md         the job summary

and `<monorepo>/.dvbuild/last-local.json` records OUT, so `dvbuild status` and
`dvbuild lineage` read this run's catalog (dvbuild/catalogs/last_local.py).

A failing package does not stop the others; each step records what it did in a
`Step`, and the run's exit code is 2 for bad input, 1 for a failed package.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvbuild import console
from dvbuild.errors import DvbuildError, InputError, UsageError
from dvbuild.package import Package
from dvbuild.settings import Settings

if TYPE_CHECKING:  # the stages are imported when their step runs
    from dvbuild.notebooks.report import Report

STEPS = ("detect", "validate", "test", "build", "publish", "render", "report")
OWN_MARK = ".dvbuild-local"
TEST_OUTPUTS = "test outputs published to the local store"


@dataclass
class Step:
    name: str
    status: str = "running"  # ok | failed | skipped | invalid
    detail: str = ""
    where: str = ""
    seconds: float = 0.0


@dataclass
class LocalRun:
    out: Path
    head: str | None = None
    steps: list[Step] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    invalid: dict[str, list[str]] = field(default_factory=dict)  # name -> problems
    previous: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # step -> per package

    @property
    def passed(self) -> list[Package]:
        ok = {r.get("package") for r in self.reports if r.get("status") == "passed"}
        return [p for p in self.packages if p.name in ok]

    @property
    def exit_code(self) -> int:
        if self.invalid or any(s.status == "invalid" for s in self.steps):
            return 2
        return 1 if any(s.status == "failed" for s in self.steps) else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out), "head": self.head, "exit_code": self.exit_code,
            "packages": [p.name for p in self.packages],
            "steps": [vars(s) for s in self.steps],
            "reports": [{"package": r["package"], "path": r["path"], "status": r.get("status"),
                         "duration": r.get("duration"), "error": r.get("error")}
                        for r in self.reports],
            "results": self.results,
            "comment": str(self.out / "comment.md"), "summary": str(self.out / "summary.md"),
        }


Progress = Callable[[Step], None]  # called when a step starts and when it ends


def run_local(settings: Settings, *, out: Path, base: str | None = None, head: str | None = None,
              all_: bool = False, build: bool = True, progress: Progress | None = None) -> LocalRun:
    run = LocalRun(out=out.resolve())
    tell = progress or (lambda step: None)
    _fresh(run.out)
    with _step(run, "detect", tell, fatal=True) as step:
        detect_packages(settings, run, step, base=base, head=head, all_=all_)
    with _step(run, "validate", tell) as step:
        validate_packages(settings, run, step)
    with _step(run, "test", tell) as step:
        test_packages(settings, run, step)
    with _step(run, "build", tell) as step:
        build_images(settings, run, step, enabled=build)
    with _step(run, "publish", tell) as step:
        publish_packages(settings, run, step)
    with _step(run, "render", tell) as step:
        render_manifests(settings, run, step)
    with _step(run, "report", tell) as step:
        write_reports(run, step)
    from dvbuild.catalogs.last_local import remember

    remember(settings.root, run.out, _store(run), _catalog(run))  # what `status` reads
    return run


def _fresh(out: Path) -> None:
    """Start clean, except the store and catalog: the next comment compares with them.
    Only a folder dvbuild made is cleaned; its .gitignore keeps git (and so detect and
    discover) from seeing the package copies in it when OUT is inside the repository."""
    if out.exists() and any(out.iterdir()) and not (out / OWN_MARK).exists():
        raise UsageError(f"{out}: not empty, and not an output folder of dvbuild local",
                         hint="give --out a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / OWN_MARK).write_text("made by dvbuild local; cleaned on every run\n")
    (out / ".gitignore").write_text("*\n")
    for name in ("packages", "manifests"):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in ("comment.md", "summary.md"):
        (out / name).unlink(missing_ok=True)


@contextmanager
def _step(run: LocalRun, name: str, tell: Progress, fatal: bool = False) -> Iterator[Step]:
    step = Step(name)
    run.steps.append(step)
    tell(step)
    started = time.monotonic()
    try:
        with console.group(f"dvbuild {name}"):
            yield step
    except ModuleNotFoundError as e:  # a step whose module is not in this build
        step.status, step.detail = "skipped", f"not available ({e.name} is missing)"
    except DvbuildError as e:
        step.status = "invalid" if isinstance(e, InputError) else "failed"
        step.detail = e.message.splitlines()[0]
        if fatal:
            tell(step)
            raise
        console.log(f"{name}: {e}")
    else:
        if step.status == "running":
            step.status = "ok"
    step.seconds = round(time.monotonic() - started, 2)
    tell(step)


def detect_packages(settings: Settings, run: LocalRun, step: Step, *,
                    base: str | None, head: str | None, all_: bool) -> None:
    from dvbuild import gitio

    run.head = gitio.rev_parse("HEAD", settings.git_root) if gitio.has_commit(
        "HEAD", settings.git_root) else None
    if all_ and head is None:
        # On a laptop, --all means what is on disk, committed or not.
        from dvbuild.package import discover

        run.packages = discover(settings.root)
        step.detail = f"{len(run.packages)} package(s): every package in the working tree"
        return
    from dvbuild.detect import selection as detect

    found = detect.detect(settings, base=base, head=head, all_=all_)
    run.packages = list(found.packages)
    if head is not None and found.head:
        run.head = found.head
    which = "every package" if found.all else f"changed since {(found.base or '?')[:12]}"
    step.detail = f"{len(run.packages)} package(s): {which}"
    for notice in getattr(found, "notices", []):
        console.log(f"detect: {notice}")


def validate_packages(settings: Settings, run: LocalRun, step: Step) -> None:
    from dvbuild.validate.packages import validate

    if not run.packages:
        step.status, step.detail = "skipped", "no packages"
        return
    problems = validate(settings, [p.folder for p in run.packages])
    for problem in problems:
        console.annotate("error", problem.message, file=settings.prefix + problem.file,
                         line=problem.line)
        owner = next((p for p in run.packages if problem.file.startswith(p.path + "/")), None)
        run.invalid.setdefault(owner.name if owner else "", []).append(str(problem))
    for name, found in run.invalid.items():
        console.log(f"invalid {name or 'configuration'}:\n  " + "\n  ".join(found))
    if run.invalid:
        step.status = "invalid"
    step.detail = f"{len(problems)} problem(s)" if problems else "all valid"
    run.reports += [_invalid_report(p, run.invalid[p.name], run.head) for p in run.packages
                    if p.name in run.invalid]


def _invalid_report(package: Package, problems: list[str], commit: str | None) -> Report:
    from dvbuild.notebooks.report import new_report

    report = new_report(package.name, package.path, mode="test", commit=commit)
    report.update({"status": "invalid", "warnings": problems[1:],
                   "error": problems[0] if problems else "invalid"})
    return report


def test_packages(settings: Settings, run: LocalRun, step: Step) -> None:
    """Packages that read others (`reads`) run after them, in layers; a layer that later
    ones read is published to the local store first, so their read_dp sees its output."""
    from dvbuild import notebooks

    todo = [p for p in run.packages if p.name not in run.invalid]
    if not todo:
        step.status, step.detail = "skipped", "no valid packages" if run.packages else "no packages"
        return
    # what the store held before this run, for the comment (early publishes change it)
    run.previous = _previous(_store(run), [p.name for p in todo], settings)
    local = settings._replace(config=settings.config._replace(test_store=_store(run)))
    run.reports += notebooks.test_in_layers(local, todo, run.out / "packages",
                                            upstream_store=_store(run),
                                            upstream_catalog=_catalog(run), commit=run.head)
    run.reports.sort(key=lambda r: r["package"])
    failed = [r for r in run.reports if r.get("status") not in ("passed", "invalid")]
    step.where = _rel(run.out / "packages")
    from dvbuild.comment.markdown import annotate
    from dvbuild.notebooks.report import counts_text

    step.detail = counts_text(run.reports)  # the comment and summary count with it too
    annotate(failed, settings.prefix)
    if failed:
        step.status = "failed"


def _store(run: LocalRun) -> str:
    return f"file://{run.out / 'store'}"


def _catalog(run: LocalRun) -> str:
    return f"file://{run.out / 'catalog'}"


def build_images(settings: Settings, run: LocalRun, step: Step, *, enabled: bool) -> None:
    from dvbuild.image import build as image

    if not enabled:
        step.status, step.detail = "skipped", "--no-build"
        return
    if not run.passed:
        step.status, step.detail = "skipped", _nothing_passed(run)
        return
    if not image.engine_available(settings):
        step.status = "skipped"
        step.detail = "no Docker engine answered: images not built (start Docker to build them)"
        return
    results = image.build_packages(settings, run.passed, commit=run.head)
    run.results["build"] = [r.as_json() for r in results]
    failed = [r for r in results if r.status == "failed"]
    step.detail = ", ".join(f"{r.package}: {r.image or r.status}" for r in results)
    if failed:
        step.status = "failed"


def publish_packages(settings: Settings, run: LocalRun, step: Step) -> None:
    from dvbuild import publish

    store, catalog = _store(run), _catalog(run)
    run.previous = run.previous or _previous(store, [p.name for p in run.passed], settings)
    if not run.passed:
        step.status, step.detail = "skipped", _nothing_passed(run)
        return
    dirs = [run.out / "packages" / p.name for p in run.passed]
    # a dry run publishes what its test runs wrote: the local store is for looking at them
    results = publish.publish_dirs(dirs, store, catalog, environ=settings.environ, commit=run.head,
                                   allow_test_output=True)
    run.results["publish"] = [r.as_dict() for r in results]
    step.where = _rel(run.out / "store")
    step.detail = TEST_OUTPUTS + ": " + ", ".join(
        f"{r.name} {r.version or ''} {r.status}".strip() for r in results)
    if any(r.status == "failed" for r in results):
        step.status = "failed"


def _previous(store_url: str, names: Sequence[str],
              settings: Settings) -> dict[str, dict[str, Any] | None]:
    from dvbuild.comment.previous import previous_manifests

    return previous_manifests(store_url, list(names), settings.environ)


def render_manifests(settings: Settings, run: LocalRun, step: Step) -> None:
    from dvbuild import manifests

    if not run.passed:
        step.status, step.detail = "skipped", _nothing_passed(run)
        return
    written = manifests.render_packages(settings, run.passed, run.out / "manifests")
    step.where = _rel(run.out / "manifests")
    unscheduled = len(run.passed) - len(written)
    step.detail = f"{len(written)} manifest(s)" + (f", {unscheduled} unscheduled" if unscheduled else "")


def write_reports(run: LocalRun, step: Step) -> None:
    from dvbuild.comment import markdown as report

    comment = report.render_comment(run.reports, head_sha=run.head, previous=run.previous)
    (run.out / "comment.md").write_text(comment, encoding="utf-8")
    summary = report.render_summary(run.reports, head_sha=run.head, previous=run.previous)
    (run.out / "summary.md").write_text(summary, encoding="utf-8")
    step.where = _rel(run.out / "comment.md")
    step.detail = f"comment {len(comment):,} characters, summary in summary.md"


def _nothing_passed(run: LocalRun) -> str:
    return "no package passed its test run" if run.packages else "no packages"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
