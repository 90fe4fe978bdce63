"""`dvbuild run PATH`: the production run inside the image: notebooks, then publish.
With `--image REF` it starts that image for the run (image/prodrun.py), here.

It works on a plain folder without git (an image need not carry a repository):
the monorepo root is the nearest folder at or above PATH holding dvbuild.yaml
(within the enclosing git work tree, if there is one), else that work tree's top,
else PATH itself. A failure exits 1 with a summary on stderr and a webhook post,
so a scheduled job never fails silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dvbuild import console
from dvbuild.commands import settings_for
from dvbuild.errors import DvbuildError, UsageError

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report
    from dvbuild.package import Package
    from dvbuild.settings import Settings

PATH = typer.Argument(..., help="The package folder.", file_okay=False, exists=True)
STORE = typer.Option(None, "--store", help="Publish target (default: $DVBUILD_STORE, dvbuild.yaml).")
CATALOG = typer.Option(None, "--catalog", help="Catalog URL (default: $DVBUILD_CATALOG, dvbuild.yaml).")
NO_PUBLISH = typer.Option(False, "--no-publish", help="Run the notebooks only.")
OUT = typer.Option(None, "--out", help="Where OUT/<name>/ is written (default: a temporary folder).")
TEST = typer.Option(False, "--test", help="A test run: test_parameters, report mode test, "
                    "nothing published or notified (what `dvbuild test --image` runs).")
IMAGE = typer.Option(None, "--image", help="Start this image (registry/name@sha256:…, pulled "
                     "when the engine lacks it) for the run, through its entrypoint, as its "
                     "Naisjob does; OUT and a file:// store or catalog are mounted.")


def run(path: Path = PATH, store: str | None = STORE, catalog: str | None = CATALOG,
        no_publish: bool = NO_PUBLISH, out: Path | None = OUT, test: bool = TEST,
        image: str | None = IMAGE) -> int:
    """Run a package's notebooks with its production parameters, then publish."""
    from dvbuild import notebooks
    from dvbuild.package import load_package

    settings = settings_for(None, cwd=path, require_git=False)  # an image need not hold git
    env = settings.environ
    package = load_package(path, settings.root)
    target = out or _temp_out()
    store_url = store or settings.config.store
    catalog_url = catalog or settings.config.catalog
    if image is not None:
        return _in_image(settings, package, image, target, store_url, catalog_url,
                         publish=not no_publish, test=test)
    if test:
        return _test_run(settings, package, target)
    report = notebooks.run_package(settings, package, target, mode="run")
    if report["status"] != "passed":
        if catalog_url and not no_publish:
            record_failure(catalog_url, env, report)
        return fail(env, report, str(report["error"]))
    problem = None
    if store_url and not no_publish:
        problem = publish(target / package.name, store_url, catalog_url, env, report)
    if problem is None:
        console.log(f"{package.name}: run passed in {report['duration']:.1f}s")
        return 0
    return fail(env, report, problem)


def _in_image(settings: Settings, package: Package, image: str, out: Path, store: str | None,
              catalog: str | None, *, publish: bool, test: bool) -> int:
    """The same run, by the image: started here, it runs the notebooks and publishes."""
    from dvbuild.image.prodrun import run_in_image

    if test:
        raise UsageError("--test and --image together",
                         hint="`dvbuild test --image` runs a package's test in its image")
    return run_in_image(settings, package, image, out, store=store, catalog=catalog,
                        publish=publish)


def _test_run(settings: Settings, package: Package, out: Path) -> int:
    """The package's test run where this dvbuild is (inside its image, for `test --image`):
    OUT/<name>/ and its report.json as `dvbuild test` writes them; exit 1 when it failed."""
    from dvbuild import notebooks
    from dvbuild.notebooks.report import details, summary_line

    report = notebooks.run_package(settings, package, out, mode="test")
    console.log(summary_line(report))
    if report["status"] == "passed":
        return 0
    for line in details(report):
        console.log(line)
    return 2 if report["status"] == "invalid" else 1


def record_failure(catalog_url: str, environ: Mapping[str, str], report: Report) -> None:
    """A run that failed before publishing still gets its run document, so `dvbuild status`
    shows the failure (a failed publish is recorded by publish itself)."""
    from datetime import UTC, datetime

    from dvbuild.catalogs import open_catalog
    from dvbuild.catalogs.runs import run_document
    from dvbuild.notebooks.convert import redact_tree

    document = run_document(
        report["package"], None, report["status"] or "failed", started=report["started"],
        finished=datetime.now(UTC).isoformat(timespec="seconds"), duration=report["duration"],
        commit=report.get("commit"), input_hash=report.get("input_hash"), files=0, uploaded=0,
        bytes=0, bytes_uploaded=0, latest=False, run_id=environ.get("GITHUB_RUN_ID"),
        error=report.get("error"))
    try:
        open_catalog(catalog_url, environ).record_run(redact_tree(document))
    except DvbuildError as e:
        console.log(f"warning: the failed run was not recorded in the catalog: {e.message}")


def _temp_out() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="dvbuild-run-"))


def publish(folder: Path, store: str, catalog: str | None, environ: Mapping[str, str],
            report: Report) -> str | None:
    """None when published (or unchanged), else what went wrong."""
    from dvbuild.publish import publish_dirs

    try:
        results = publish_dirs([folder], store, catalog, environ=environ,
                               commit=report.get("commit"), input_hash=report.get("input_hash"))
    except DvbuildError as e:
        return f"publish failed: {e.message}"
    failed = [r for r in results if r.status == "failed"]
    if failed:
        return f"publish failed: {failed[0].error}"
    for r in results:
        console.log(f"{r.name}: {r.status} {r.version}")
    return None


def fail(environ: Mapping[str, str], report: Report, problem: str) -> int:
    from dvbuild.adapters import notify
    from dvbuild.notebooks.report import details

    console.log(f"error: {report['package']}: {problem}")
    for line in details(report):
        if line != f"{report['package']}: {problem}":
            console.log(line)
    notify.notify_failure(environ, report, problem)
    return 1


def register(app: typer.Typer) -> None:
    app.command("run")(run)
