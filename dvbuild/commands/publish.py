"""`dvbuild publish DIR... --store URL [--catalog URL]` and `--rollback VERSION NAME`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, settings_and_problems
from dvbuild.errors import UsageError
from dvbuild.settings import Settings

TARGETS = typer.Argument(None, metavar="DIR...",
                         help="Built package directories (or NAME with --rollback).")
STORE_OPTION = typer.Option(None, "--store", metavar="URL",
                            help="s3://bucket/prefix or file:///dir "
                                 "(default: $DVBUILD_STORE, dvbuild.yaml store)")
CATALOG_OPTION = typer.Option(None, "--catalog", metavar="URL",
                              help="http(s)://elasticsearch or file:///dir "
                                   "(default: $DVBUILD_CATALOG, dvbuild.yaml catalog)")
ROLLBACK_OPTION = typer.Option(None, "--rollback", metavar="VERSION",
                               help="Point NAME's latest.json back at this complete version.")
COMMIT_OPTION = typer.Option(None, "--commit", metavar="SHA",
                             help="Commit sha, when no report.json has one.")
INPUT_HASH_OPTION = typer.Option(None, "--input-hash", metavar="HASH",
                                 help="Input hash, when no report.json has one.")
ALLOW_TEST_OPTION = typer.Option(False, "--allow-test-output",
                                 help="Publish folders a test run wrote (report.json mode: "
                                      "test); without it they are refused (exit 2).")


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)


def publish(
    targets: list[str] = TARGETS,
    store: str | None = STORE_OPTION,
    catalog: str | None = CATALOG_OPTION,
    rollback: str = ROLLBACK_OPTION,
    commit: str = COMMIT_OPTION,
    input_hash: str = INPUT_HASH_OPTION,
    allow_test_output: bool = ALLOW_TEST_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Publish built package directories as versions in a store (and a catalog)."""
    from dvbuild import publish as pub

    settings = repo_settings()
    store = need_store(store, settings)
    catalog = catalog or settings.config.catalog or None
    if rollback:
        return _rollback(targets or [], rollback, store, catalog, as_json, settings.environ)
    results = pub.publish_dirs([Path(t) for t in targets or []], store, catalog,
                               environ=settings.environ, commit=commit, input_hash=input_hash,
                               allow_test_output=allow_test_output)
    failed = [r for r in results if r.status == "failed"]
    if as_json:
        console.emit_json({"store": store, "catalog": catalog,
                           "packages": [r.as_dict() for r in results]})
    else:
        for r in results:
            state = r.error if r.status == "failed" else ("latest" if r.latest else "not latest")
            console.echo(f"{r.name}\t{r.version}\t{r.status}\t{state}")
    for r in failed:  # a refused directory: one annotation per problem, on its file
        for p in r.problems or [{"message": r.error, "file": "", "line": None}]:
            console.annotate("error", f"{r.name}: publish failed: {p['message']}",
                             file=str(p["file"] or ""), line=p["line"])
    return 1 if failed else 0


def _rollback(targets: list[str], version: str, store_url: str, catalog_url: str | None,
              as_json: bool, env: Mapping[str, str]) -> int:
    from dvbuild import publish as pub
    from dvbuild.catalogs import open_catalog
    from dvbuild.stores import open_store

    if len(targets) != 1:
        raise UsageError("--rollback takes exactly one package NAME",
                         hint="dvbuild publish --rollback VERSION NAME --store URL")
    store = open_store(store_url, env)
    catalog = open_catalog(catalog_url, env) if catalog_url else None
    doc = pub.rollback(store, targets[0], version, catalog=catalog)
    if as_json:
        console.emit_json({"name": targets[0], "latest": doc})
    else:
        console.echo(f"{targets[0]}: latest is now {doc.get('version')}")
    return 0


def repo_settings() -> Settings:
    """The settings around the working directory: publish and versions also run outside
    any repository, and a broken dvbuild.yaml only loses its defaults there."""
    return settings_and_problems(None)[0]


def need_store(given: str | None, settings: Settings) -> str:
    """--store, else $DVBUILD_STORE, else dvbuild.yaml's store (settings hold the last two)."""
    store = given or settings.config.store
    if not store:
        raise UsageError("--store is required (dvbuild.yaml has no store)",
                         hint="--store s3://bucket/prefix or file:///dir")
    return store
