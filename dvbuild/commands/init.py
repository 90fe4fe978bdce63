"""`dvbuild init NAME [--dir DIR] [--with-workflow]`: scaffold a package folder.

The folder defaults to ./NAME. It refuses to overwrite anything, to nest a
package in another, and to reuse a name another package of the monorepo has.
`--with-workflow` also copies the team workflow to .github/workflows/ at the
top of the git repository (where GitHub looks for it).
"""

from __future__ import annotations

from pathlib import Path

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION
from dvbuild.errors import DvbuildError, UsageError

NAME_ARGUMENT = typer.Argument(..., metavar="NAME", help="The package name (a lowercase slug).")
DIR_OPTION = typer.Option(None, "--dir", help="The new folder (default: ./NAME).",
                          file_okay=False)
TITLE_OPTION = typer.Option(None, "--title", help="A human title.")
WORKFLOW_OPTION = typer.Option(False, "--with-workflow",
                               help="Also add the team workflows to .github/workflows/.")


def register(app: typer.Typer) -> None:
    app.command("init", help="Create a new data package folder from templates.")(init_command)


def init_command(
    name: str = NAME_ARGUMENT,
    dir_: Path | None = DIR_OPTION,
    title: str | None = TITLE_OPTION,
    with_workflow: bool = WORKFLOW_OPTION,
    json_: bool = JSON_OPTION,
    repo: Path | None = REPO_OPTION,
) -> int:
    from dvbuild import scaffold

    scaffold.check_name(name)
    folder = (dir_ or Path.cwd() / name).absolute()
    roots = _roots(repo)
    if roots is not None:
        _check_unique(name, roots[0])
    workflow_root = roots[1] if roots else (repo or Path.cwd()).absolute()
    if with_workflow and any((workflow_root / scaffold.WORKFLOW.parent / f).exists()
                             for f in scaffold.WORKFLOW_FILES):
        scaffold.copy_workflow(workflow_root)  # raises: refuse before writing anything
    display = _display(folder)
    written = scaffold.create_package(folder, name, title or scaffold.default_title(name),
                                      display)
    workflow = scaffold.copy_workflow(workflow_root) if with_workflow else None
    if json_:
        console.emit_json({"name": name, "path": str(folder),
                           "files": [str(p) for p in written],
                           "workflow": str(workflow) if workflow else None})
        return 0
    console.echo(f"created {display}/: " + ", ".join(p.name for p in written))
    if workflow:
        console.echo(f"created {_display(workflow)}")
    elif not (workflow_root / ".github" / "workflows").is_dir():
        console.log(f"note: {workflow_root} has no .github/workflows/; "
                    f"`dvbuild init NAME --with-workflow` adds the team workflow")
    return 0


def _roots(repo: Path | None) -> tuple[Path, Path] | None:
    """(monorepo root, git root), or None outside a git repository."""
    from dvbuild.settings import find_root

    try:
        return find_root(repo, Path.cwd())
    except DvbuildError:
        if repo is not None:
            raise
        return None


def _check_unique(name: str, root: Path) -> None:
    from dvbuild import gitio
    from dvbuild.package import DESCRIPTORS, PATHSPECS
    from dvbuild.validate.packages import name_of

    for rel in gitio.ls_files(root, *PATHSPECS):
        if rel.rpartition("/")[2] not in DESCRIPTORS:
            continue
        if name_of((root / rel).parent) == name:
            raise UsageError(f"the name {name!r} is already used by {rel}",
                             hint="package names are unique in a monorepo; pick another")


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
