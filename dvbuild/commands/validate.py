"""`dvbuild validate [PATH...]`: check dvbuild.yaml and every datapackage.json at once.

Human output: one line per problem, then per warning (`warning: ...`), on stdout,
then a summary. `--json` prints `{"ok": bool, "packages": N, "problems":
[Problem.as_dict(), ...], "warnings": [...]}`. Exit 2 when there is any problem;
warnings (a custom key that looks like a typo) never fail the command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION, paths_or_here, settings_and_problems
from dvbuild.errors import Problem
from dvbuild.settings import Settings

PATHS_ARGUMENT = typer.Argument(None, metavar="PATH",
                                help="Package folders (default: the package folder you are "
                                     "in, else every package).")
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
    paths = paths_or_here(paths, settings)
    # a broken dvbuild.yaml is the manifests' problem too: render stops at it
    warnings: list[Problem] = []  # allowed, but look wrong: they never fail the command
    problems += validate(settings, list(paths or []), data=data, jobs=not problems,
                         warnings=warnings)
    packages = _count(settings, paths)
    if json_:
        console.emit_json({"ok": not problems, "packages": packages,
                           "problems": [p.as_dict() for p in problems],
                           "warnings": [w.as_dict() for w in warnings]})
    else:
        _print(problems, packages, warnings)
    for level, found in (("error", problems), ("warning", warnings)):
        for p in found:  # annotation paths are relative to the git repository
            console.annotate(level, p.message, file=settings.prefix + p.file, line=p.line)
    return 2 if problems else 0


def _count(settings: Settings, paths: list[Path] | None) -> int:
    if paths:
        return len(paths)
    from dvbuild.validate.packages import descriptor_files

    return len({f.rpartition("/")[0] for f in descriptor_files(settings.root)})


def _print(problems: list[Problem], packages: int, warnings: list[Problem]) -> None:
    for p in problems:
        console.echo(str(p))
    for w in warnings:
        console.echo(f"warning: {w}")
    noun = "package" if packages == 1 else "packages"
    noted = f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""
    if problems:
        console.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} "
                     f"({packages} {noun} checked{noted})")
    else:
        console.echo(f"ok: {packages} {noun} valid" + (f" ({noted[2:]})" if noted else ""))
