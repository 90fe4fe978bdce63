"""`dvbuild run PATH`: the production run inside the image: notebooks, then publish.

It works on a plain folder without git (an image need not carry a repository):
the monorepo root is the nearest folder above PATH holding dvbuild.yaml, else
the enclosing git work tree if there is one, else PATH itself. A failure exits 1
with a summary on stderr and a webhook post, so a scheduled job never fails
silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from dvbuild import console
from dvbuild.errors import DvbuildError
from dvbuild.settings import Settings

PATH = typer.Argument(..., help="The package folder.", file_okay=False, exists=True)
STORE = typer.Option(None, "--store", help="Publish target (default: $DVBUILD_STORE, dvbuild.yaml).")
CATALOG = typer.Option(None, "--catalog", help="Catalog URL (default: $DVBUILD_CATALOG, dvbuild.yaml).")
NO_PUBLISH = typer.Option(False, "--no-publish", help="Run the notebooks only.")
OUT = typer.Option(None, "--out", help="Where OUT/<name>/ is written (default: a temporary folder).")


def run(path: Path = PATH, store: str | None = STORE, catalog: str | None = CATALOG,
        no_publish: bool = NO_PUBLISH, out: Path | None = OUT) -> int:
    """Run a package's notebooks with its production parameters, then publish."""
    from dvbuild import notebooks
    from dvbuild.commands import environ
    from dvbuild.package import load_package

    env = environ()
    settings = run_settings(path, env)
    package = load_package(path, settings.root)
    target = out or _temp_out()
    report = notebooks.run_package(settings, package, target, mode="run")
    problem = report["error"] if report["status"] != "passed" else None
    store_url = store or env.get("DVBUILD_STORE") or settings.config.store
    if problem is None and store_url and not no_publish:
        problem = publish(target / package.name, store_url,
                          catalog or env.get("DVBUILD_CATALOG") or settings.config.catalog,
                          env, report)
    if problem is None:
        console.log(f"{package.name}: run passed in {report['duration']:.1f}s")
        return 0
    return fail(env, report, problem)


def run_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    from dvbuild.settings import CONFIG_FILE, GitHubContext, load_config

    folder = path.resolve()
    root = next((d for d in (folder, *folder.parents) if (d / CONFIG_FILE).is_file()), None)
    root = root or _git_root(folder) or folder
    console.configure(github_actions=environ.get("GITHUB_ACTIONS") == "true")
    return Settings(root=root, git_root=root, config=load_config(root),
                    github=GitHubContext.from_environ(environ), environ=dict(environ))


def _git_root(folder: Path) -> Path | None:
    from dvbuild import gitio

    try:
        return gitio.get_root(folder)
    except DvbuildError:
        return None


def _temp_out() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="dvbuild-run-"))


def publish(folder: Path, store: str, catalog: str | None, environ: Mapping[str, str],
            report: dict[str, Any]) -> str | None:
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


def fail(environ: Mapping[str, str], report: dict[str, Any], problem: str) -> int:
    from dvbuild import notify
    from dvbuild.notebooks.report import details

    console.log(f"error: {report['package']}: {problem}")
    for line in details(report):
        if line != f"{report['package']}: {problem}":
            console.log(line)
    notify.notify_failure(environ, report, problem)
    return 1


def register(app: typer.Typer) -> None:
    app.command("run")(run)
