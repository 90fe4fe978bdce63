"""`dvbuild lineage NAME [--version V] [--catalog URL] [--json]`: what a version read,
and what read it (worked out in `dvbuild.catalogs.lineage`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dvbuild import console
from dvbuild.commands import CATALOG_OPTION, JSON_OPTION, REPO_OPTION, settings_for


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage)


def lineage(
    name: str = typer.Argument(..., metavar="NAME", help="The package name."),
    version: Annotated[str | None, typer.Option(
        "--version", help="A published version (default: the newest).")] = None,
    catalog: str | None = CATALOG_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> int:
    """Show the upstream versions a version read (read_dp) and the downstream versions that read it."""
    from dvbuild.catalogs import lineage as stage
    from dvbuild.catalogs import open_catalog
    from dvbuild.catalogs.status import catalog_choice

    settings = settings_for(repo, require_git=False)
    url, source = catalog_choice(settings, catalog)
    console.log(f"catalog: {url} ({source})")
    opened = open_catalog(url, settings.environ)
    found = stage.lineage(opened, name, version)
    if as_json:
        console.emit_json(dict(found))
    else:
        console.echo(stage.tree_text(found))
    return 0
