"""`dvbuild test [PATH...]`: test-run packages' notebooks into OUT/<name>/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION, paths_or_here, settings_for

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report

DEFAULT_OUT = Path("out")  # below the monorepo root, wherever dvbuild is run
UPSTREAM = ".upstream"  # OUT/.upstream: a file store of this run's outputs that others read
PATHS = typer.Argument(None, help="Package folders (default: the package folder you are in, "
                       "else every package).")
OUT = typer.Option(None, "--out", help="Where OUT/<name>/ is written (default: out/ in the "
                   "monorepo root).")
JOBS = typer.Option(0, "--jobs", "-j", min=0, help="Packages in parallel (default: CPUs).")
IMAGE = typer.Option(False, "--image", help="Run inside each package's image (built first, or "
                     "reused by its content-hash tag) through its entrypoint, `dvbuild run --test`.")


def test(
    paths: list[Path] = PATHS,
    out: Path | None = OUT,
    jobs: int = JOBS,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
    image: bool = IMAGE,
) -> int:
    """Convert and test-run notebooks; write OUT/<name>/report.json, executed notebooks, HTML."""
    from dvbuild import notebooks
    from dvbuild.package import discover, select

    settings = settings_for(repo)
    packages = select(discover(settings.root), paths_or_here(paths, settings), settings.root)
    out = out if out is not None else settings.root / DEFAULT_OUT
    upstream = f"file://{(out / UPSTREAM).resolve()}"  # outputs that later packages read
    if image:
        from dvbuild.image.testrun import test_in_images

        reports = test_in_images(settings, packages, out, upstream_store=upstream)
    else:
        reports = notebooks.test_in_layers(settings, packages, out, upstream_store=upstream,
                                           jobs=jobs or None)
    show(reports, out, as_json)
    return exit_code(reports)


def show(reports: list[Report], out: Path, as_json: bool) -> None:
    from dvbuild.notebooks.report import details, summary_line

    if as_json:
        passed = all(r["status"] == "passed" for r in reports)
        console.emit_json({"out": str(out.resolve()), "status": "passed" if passed else "failed",
                           "packages": reports})
        return
    if not reports:
        console.echo("no packages to test")
    for r in reports:
        console.echo(summary_line(r))
        for warning in r.get("warnings", []):
            console.echo(f"  warning: {console.untrusted(warning)}")
            console.annotate("warning", f"{r['package']}: {warning}",
                             file=_file(r, "datapackage.json"))
    for r in reports:
        if r["status"] != "passed":
            console.annotate("error", f"{r['package']}: {r['error']}", file=_failed_file(r))
            console.echo("")
            for line in details(r):
                console.echo(line)


def _failed_file(report: Report) -> str:
    """The file to pin an annotation on: the failing notebook, else the descriptor
    (an .ipynb has no useful line numbers: the message names the cell)."""
    failed = [nb["path"] for nb in report.get("notebooks", []) if nb.get("error")]
    return _file(report, failed[0] if failed else "datapackage.json")


def _file(report: Report, name: str) -> str:
    return name if report["path"] == "." else f"{report['path']}/{name}"


def exit_code(reports: list[Report]) -> int:
    statuses = {r["status"] for r in reports}
    if "invalid" in statuses:
        return 2
    return 1 if statuses - {"passed"} else 0


def register(app: typer.Typer) -> None:
    app.command("test")(test)
