"""`dvbuild versions NAME --store URL`: the complete versions of a package, newest first."""

from __future__ import annotations

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION
from dvbuild.commands.publish import STORE_OPTION, need_store, repo_settings


def register(app: typer.Typer) -> None:
    app.command("versions")(versions)


def versions(
    name: str = typer.Argument(..., metavar="NAME", help="The package name."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """List a package's complete versions (newest first); * marks latest."""
    from dvbuild import publish as pub
    from dvbuild.stores import open_store

    settings = repo_settings()
    store = need_store(store, settings)
    opened = open_store(store, settings.environ)
    current = (pub.latest(opened, name, strict=False) or {}).get("version")
    rows = [{"version": m["version"], "published": m.get("published"),
             "commit": m.get("commit"), "input_hash": m.get("input_hash"),
             "files": len(m["files"]) if isinstance(m.get("files"), list) else None,
             "bytes": m.get("bytes"),
             "latest": m["version"] == current}
            for m in pub.manifests(opened, name)]
    if as_json:
        console.emit_json({"name": name, "latest": current, "versions": rows})
    else:
        if not rows:
            console.log(f"{name}: no complete versions in {store}")
        for r in rows:
            mark = "*" if r["latest"] else " "
            console.echo(f"{mark} {r['version']}\t{r['published']}\t{r['commit'] or '-'}")
    return 0
