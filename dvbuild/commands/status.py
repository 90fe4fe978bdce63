"""`dvbuild status [--catalog URL]`: every package, when it runs, and how its last run went.

What it shows is worked out in `dvbuild.catalogs.status`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dvbuild import console
from dvbuild.catalogs import status as stage
from dvbuild.commands import CATALOG_OPTION, JSON_OPTION, REPO_OPTION, settings_for


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    catalog: str | None = CATALOG_OPTION,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> int:
    """List packages, their schedules (cron, in words, next runs) and their last runs."""
    found = stage.status(settings_for(repo), catalog)
    console.log(f"catalog: {found.catalog} ({found.source})")
    if as_json:
        console.emit_json(found.as_json())
    else:
        console.echo(stage.table_text(found.rows, found.catalog))
    found.check()
    return 0
