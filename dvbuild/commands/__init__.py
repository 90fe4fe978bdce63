"""One module per subcommand; each defines `register(app)`.

This package is the CLI layer: the only place that reads os.environ, which it
turns into a Settings object for the steps below.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dvbuild import console
from dvbuild.settings import Settings, load_settings

REPO_OPTION = typer.Option(
    None, "--repo", help="The monorepo folder (default: nearest dvbuild.yaml, else the git root).",
    file_okay=False,
)
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")


def settings_for(repo: Path | None) -> Settings:
    settings = load_settings(repo, environ=os.environ)
    console.configure(github_actions=settings.github.actions)
    return settings


def environ() -> dict[str, str]:
    return dict(os.environ)
