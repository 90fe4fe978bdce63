"""`dvbuild validate [PATH...]`: check dvbuild.yaml and every datapackage.json at once.

Human output: one line per problem on stdout, then a summary. `--json` prints
`{"ok": bool, "packages": N, "problems": [Problem.as_dict(), ...]}`. Exit 2 when
there is any problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION
from dvbuild.errors import ConfigError, Problem, UsageError
from dvbuild.settings import GitHubContext, RepoConfig, Settings, find_root, load_config

PATHS_ARGUMENT = typer.Argument(None, metavar="PATH",
                                help="Package folders (default: every package).")
DATA_OPTION = typer.Option(False, "--data", help="Also read the data files (slow).")


def register(app: typer.Typer) -> None:
    app.command("validate", help="Check dvbuild.yaml and datapackage.json files.")(validate_command)


def validate_command(
    paths: list[Path] | None = PATHS_ARGUMENT,
    data: bool = DATA_OPTION,
    json_: bool = JSON_OPTION,
    repo: Path | None = REPO_OPTION,
) -> int:
    from dvbuild.validate.packages import validate

    settings, problems = _settings(repo)
    problems += validate(settings, list(paths or []), data=data)
    packages = _count(settings, paths)
    if json_:
        console.emit_json({"ok": not problems, "packages": packages,
                           "problems": [p.as_dict() for p in problems]})
    else:
        _print(problems, packages)
    for p in problems:  # annotation paths are relative to the git repository
        console.annotate("error", p.message, file=settings.prefix + p.file, line=p.line)
    return 2 if problems else 0


def _settings(repo: Path | None) -> tuple[Settings, list[Problem]]:
    """Settings, and the problems in dvbuild.yaml (reported, not fatal: the packages
    are still checked, with an empty configuration)."""
    try:
        root, git_root = find_root(repo, Path.cwd())
    except UsageError:  # not a git repository: validate the folder as it is on disk
        root = git_root = (repo or Path.cwd()).resolve()
        if not root.is_dir():
            raise
    try:
        config, problems = load_config(root), []
    except ConfigError as e:
        config, problems = RepoConfig(), e.problems
    environ = dict(os.environ)
    console.configure(github_actions=environ.get("GITHUB_ACTIONS") == "true")
    settings = Settings(root=root, git_root=git_root, config=config,
                        github=GitHubContext.from_environ(environ), environ=environ)
    return settings, list(problems)


def _count(settings: Settings, paths: list[Path] | None) -> int:
    if paths:
        return len(paths)
    from dvbuild.validate.packages import descriptor_files

    return len(descriptor_files(settings.root))


def _print(problems: list[Problem], packages: int) -> None:
    for p in problems:
        console.echo(str(p))
    noun = "package" if packages == 1 else "packages"
    if problems:
        console.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} "
                     f"({packages} {noun} checked)")
    else:
        console.echo(f"ok: {packages} {noun} valid")
