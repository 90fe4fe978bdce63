"""Where published packages are found: one document per package, version and run.

Three collections (Elasticsearch indices behind aliases, or folders of the file
catalog): `dvbuild-packages` (id: the package name; the newest version),
`dvbuild-versions` (id: `<name>@<version>`) and `dvbuild-runs` (one per publish
or production run). The package document carries `published_ms`; a write with
a smaller or equal value is ignored, so a stale job cannot overwrite a newer
entry. Version documents are written once; reruns are no-ops.

    file.py, elastic.py   the two catalogs (elastic.py: the only elasticsearch import)
    runs.py               RunDocument and `run_document`, its one constructor
    status.py             `dvbuild status`: packages, schedules in words, their last runs
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from dvbuild.errors import UsageError

if TYPE_CHECKING:
    from dvbuild.catalogs.runs import RunDocument
    from dvbuild.stores import Store

PACKAGES = "dvbuild-packages"
VERSIONS = "dvbuild-versions"
RUNS = "dvbuild-runs"


class Catalog(Protocol):
    url: str

    def publish(self, package: Mapping[str, Any], version: Mapping[str, Any],
                run: RunDocument) -> None:
        """Write a version document (once), the package document (if newer) and a run."""

    def record_run(self, run: RunDocument) -> None:
        """A run document alone (a production run that failed before publishing)."""

    def runs(self, name: str | None = None) -> list[RunDocument]:
        """Run documents, newest first."""

    def packages(self) -> list[dict[str, Any]]:
        """Package documents, sorted by name."""

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Version documents of one package, newest first."""


def open_catalog(url: str, environ: Mapping[str, str]) -> Catalog:
    """`http(s)://host:port` → Elasticsearch/OpenSearch; `file:///dir` → the file catalog."""
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        from dvbuild.catalogs.elastic import ElasticCatalog

        return ElasticCatalog.from_url(url, environ)
    if scheme in ("file", ""):
        from dvbuild.catalogs.file import FileCatalog

        return FileCatalog.from_url(url)
    raise UsageError(f"catalog URL {url!r}: unknown scheme {scheme!r}",
                     hint="use http(s)://elasticsearch:9200 or file:///absolute/dir")


def run_id(run: RunDocument) -> str:
    """Deterministic per run: the package, its start time and the CI run (if any)."""
    started = str(run.get("started", "")).replace(":", "").replace("-", "")
    return f"{run['package']}@{started}" + (f"@{run['run_id']}" if run.get("run_id") else "")


def published_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def documents(manifest: Mapping[str, Any], store: Store, *,
              published: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(package document, version document) for a complete version's manifest.
    `published` is when latest.json moved to it (the package document's version)."""
    name, version = manifest["name"], manifest["version"]
    base = f"{name}/versions/{version}/"
    doc = {
        "name": name, "version": version, "semver": manifest.get("semver"),
        "title": manifest.get("title") or name, "description": manifest.get("description", ""),
        "keywords": manifest.get("keywords", []), "team": manifest.get("team"),
        "schedule": manifest.get("schedule"), "timezone": manifest.get("timezone"),
        "commit": manifest.get("commit"), "input_hash": manifest.get("input_hash"),
        "bytes": manifest.get("bytes"),
        "resources": [{**r, "url": _url(store, base, r.get("path"))}
                      for r in manifest.get("resources", [])],
        "notebooks": [{"path": n["path"], "url": store.url_for(base + n["path"]),
                       "html_url": store.url_for(base + n["html"]) if n.get("html") else None}
                      for n in manifest.get("notebooks", [])],
        "store": {"version": store.url_for(base.rstrip("/")),
                  "manifest": store.url_for(base + "_manifest.json"),
                  "latest": store.url_for(f"{name}/latest.json")},
        "inputs": manifest.get("inputs") or [],  # what the run read: lineage.py follows them
        "created": manifest.get("published"),
    }
    package = {**doc, "published": published, "published_ms": published_ms(published)}
    version_doc = {**doc, "published": manifest.get("published")}
    return package, version_doc


def _url(store: Store, base: str, path: Any) -> str | None:
    return store.url_for(base + path) if isinstance(path, str) and "://" not in path else None
