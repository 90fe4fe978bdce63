"""`dvbuild build [PATH...] [--push] [--tag TAG] [--dry-run] [--json]`: one image per package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION, paths_or_here, settings_for

if TYPE_CHECKING:
    from dvbuild.image.build import BuildResult

PATHS = typer.Argument(None, help="Package folders (default: the package folder you are in, "
                       "else every package).")
PUSH = typer.Option(False, "--push", help="Push to the registry in dvbuild.yaml.")
TAG = typer.Option(None, "--tag", help="An extra tag (or a full image reference).")
DRY_RUN = typer.Option(False, "--dry-run", help="Print the Dockerfile and build context only.")


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build(
        paths: list[Path] = PATHS,
        push: bool = PUSH,
        tag: str | None = TAG,
        dry_run: bool = DRY_RUN,
        json_: bool = JSON_OPTION,
        repo: Path | None = REPO_OPTION,
    ) -> int:
        """Build (and push) one Docker image per package through the Docker Engine API."""
        from dvbuild.errors import UsageError
        from dvbuild.image import build as image
        from dvbuild.package import discover, select

        settings = settings_for(repo)
        if push and not settings.config.registry:
            raise UsageError("--push needs a registry", hint="set `registry:` in dvbuild.yaml")
        packages = select(discover(settings.root), paths_or_here(paths, settings), settings.root)
        results = image.build_packages(settings, packages, push=push, tag=tag, dry_run=dry_run)
        if json_:
            console.emit_json({"packages": [r.as_json() for r in results]})
        else:
            for r in results:
                _print(r)
        for r in results:
            if r.status == "failed":
                console.log(f"error: {r.package}: {r.error}")
        return 1 if any(r.status == "failed" for r in results) else 0


def _print(result: BuildResult) -> None:
    if result.dockerfile is not None:
        console.echo(f"# {result.package} ({result.path}): {result.message}")
        console.echo(f"# tags: {' '.join(result.tags)}")
        console.echo(result.dockerfile.rstrip("\n"))
        console.echo(f"# build context ({len(result.context or [])} files):")
        for name in result.context or []:
            console.echo(f"#   {name}")
        return
    detail = result.error.splitlines()[0] if result.error else result.message
    pushed = ", pushed" if result.pushed else ""
    console.echo(f"{result.status:8} {result.package}  {detail}{pushed} ({result.duration:.1f}s)")
