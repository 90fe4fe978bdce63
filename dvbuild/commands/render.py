"""`dvbuild render [PATH...] --out DIR`: one Naisjob (or CronJob) manifest per scheduled package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION, paths_or_here, settings_for
from dvbuild.errors import ConfigError

if TYPE_CHECKING:
    from dvbuild.manifests import RenderResult
    from dvbuild.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("render")(render)


def render(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the manifests to.",
                                      file_okay=False)],
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Package folders (default: the package folder you are in, else every "
        "package).")] = None,
    image: Annotated[str | None, typer.Option(
        "--image", help="Image reference for every manifest; {name} and {hash} are "
        "replaced (default: registry/name:input-hash).")] = None,
    kind: Annotated[str, typer.Option("--kind", help="naisjob (NAIS) or cronjob (batch/v1).")
                    ] = "naisjob",
    prune: Annotated[bool, typer.Option("--prune", help="Remove dvbuild manifests in OUT whose "
                                        "package is gone or no longer scheduled.")] = False,
    as_json: bool = JSON_OPTION,
    repo: Path = REPO_OPTION,
) -> int:
    """Render and validate one manifest per package with a `schedule`."""
    from dvbuild import manifests
    from dvbuild.package import discover, select

    settings = settings_for(repo)
    if image is None or "{hash}" in image:
        _say_if_no_commit(settings)
    every = discover(settings.root)
    chosen = select(every, paths_or_here(paths, settings), settings.root)
    names: list[str] = []
    if prune:
        scheduled = {p.name for p in every if p.schedule}
        names = [n for n in manifests.managed_manifests(out) if n not in scheduled]
    result = manifests.render_all(settings, chosen, out, image=image, kind=kind.lower(),
                                  prune=names)
    _show(result, out, kind.lower(), as_json)
    if result.problems:
        raise ConfigError(result.problems, hint="fix the package's settings, then render again")
    return 0


def _say_if_no_commit(settings: Settings) -> None:
    from dvbuild import gitio

    if not gitio.has_commit("HEAD", settings.git_root):
        console.log("note: no commit yet: image tags are the working tree's input hashes "
                    "(the tags HEAD will have once the tree is committed as it is)")


def _show(result: RenderResult, out: Path, kind: str, as_json: bool) -> None:
    if as_json:
        console.emit_json({
            "out": str(out), "kind": kind, "manifests": result.manifests,
            "skipped": [{"package": n, "reason": "no schedule"} for n in result.skipped],
            "pruned": [str(p) for p in result.pruned],
            "problems": [p.as_dict() for p in result.problems],
        })
        return
    for m in result.manifests:
        console.echo(f"wrote {m['path']}  ({m['package']}: {m['schedule']} {m['timezone']})")
    for name in result.skipped:
        console.log(f"{name}: no schedule, no manifest (runs on push only)")
    for path in result.pruned:
        console.echo(f"removed {path}")
    console.log(f"{len(result.manifests)} {kind} manifest(s) in {out}, "
                f"{len(result.skipped)} package(s) without a schedule")
