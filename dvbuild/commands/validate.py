"""`dvbuild validate [PATH...]`: check dvbuild.yaml and every datapackage.json at once.

Human output: one line per problem on stdout, then a summary. `--json` prints
`{"ok": bool, "packages": N, "problems": [Problem.as_dict(), ...]}`. Exit 2 when
there is any problem.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION, settings_and_problems
from dvbuild.errors import Problem
from dvbuild.settings import Settings

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

    settings, problems = settings_and_problems(repo)  # dvbuild.yaml's problems, not fatal
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
