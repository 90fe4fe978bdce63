"""One module per subcommand; each defines `register(app)`.

This package is the CLI layer: the only place that reads os.environ, which it
turns into a Settings object for the steps below.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dvbuild import console
from dvbuild.errors import ConfigError, Problem
from dvbuild.settings import RepoConfig, Settings, load_settings

REPO_OPTION = typer.Option(
    None, "--repo", help="The monorepo folder (default: nearest dvbuild.yaml, else the git root).",
    file_okay=False,
)
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
CATALOG_OPTION = typer.Option(
    None, "--catalog", help="Catalog URL: http(s)://elasticsearch or file:///dir (default: "
    "dvbuild.yaml catalog, else the last `dvbuild local` run's, else <repo>/out/catalog).",
)


def settings_for(repo: Path | None, *, cwd: Path | None = None, require_git: bool = True,
                 config: RepoConfig | None = None) -> Settings:
    """Settings from os.environ (see settings.load_settings); output follows them."""
    settings = load_settings(repo, environ=os.environ, cwd=cwd, require_git=require_git,
                             config=config)
    console.configure(github_actions=settings.github.actions)
    return settings


def settings_and_problems(repo: Path | None) -> tuple[Settings, list[Problem]]:
    """Settings without requiring git, and a broken dvbuild.yaml's problems instead of an
    error (the configuration is then empty): validate reports them, publish goes on."""
    try:
        return settings_for(repo, require_git=False), []
    except ConfigError as e:
        return settings_for(repo, require_git=False, config=RepoConfig()), list(e.problems)


def paths_or_here(paths: list[Path] | None, settings: Settings) -> list[Path]:
    """PATH arguments; without any, inside a package folder that package, else none
    (every package)."""
    from dvbuild.package import folder_around

    if paths:
        return list(paths)
    here = folder_around(Path.cwd(), settings.root)
    if here is None:
        return []
    console.log(f"{here.relative_to(settings.root.resolve()).as_posix()}: the package folder "
                "you are in (give PATH..., or run from the monorepo root, for others)")
    return [here]
