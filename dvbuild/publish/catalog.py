"""The catalog side of a publish: package, version and run documents, written after the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dvbuild import console
from dvbuild.catalogs import Catalog, documents
from dvbuild.catalogs.runs import RunDocument, run_document
from dvbuild.errors import DvbuildError
from dvbuild.publish.bundle import Bundle
from dvbuild.publish.manifest import now_iso
from dvbuild.publish.pointer import latest
from dvbuild.publish.result import PublishResult
from dvbuild.stores import Store


def publish_catalog(catalog: Catalog, store: Store, manifest: Mapping[str, Any],
                    result: PublishResult, started: str, run_id: str | None) -> None:
    current = latest(store, result.name) or {}
    # The package document carries latest.json's time, so a rerun writes the same
    # document with the same external version (a no-op), and a stale job an older one.
    published = current.get("published") if result.latest else started
    package, version_doc = documents(manifest, store, published=str(published or started))
    run = publish_run(manifest, result, started=started, run_id=run_id)
    result.run = run
    catalog.publish(package, version_doc, run)


def record_failure(catalog: Catalog, bundle: Bundle, result: PublishResult, started: str,
                   run_id: str | None) -> None:
    manifest = bundle.manifest(published=started)
    result.run = run = publish_run(manifest, result, started=started, run_id=run_id)
    try:
        catalog.record_run(run)
    except DvbuildError as e:
        console.log(f"warning: {bundle.name}: the failed run was not recorded: {e.message}")


def record_rollback(catalog: Catalog, store: Store, name: str, version: str,
                    manifest: Mapping[str, Any], published: str) -> None:
    package, version_doc = documents(manifest, store, published=published)
    catalog.publish(package, version_doc, run_document(
        name, version, "rollback", started=published, finished=published, duration=0.0,
        commit=manifest.get("commit"), input_hash=manifest.get("input_hash"), bytes=0))


def publish_run(manifest: Mapping[str, Any], result: PublishResult, *, started: str,
                run_id: str | None = None) -> RunDocument:
    return run_document(
        result.name, result.version, result.status, started=started, finished=now_iso(),
        duration=result.seconds, commit=manifest.get("commit"),
        input_hash=manifest.get("input_hash"),
        rows={r["name"]: r.get("rows") for r in manifest.get("resources", [])},
        files=result.files, uploaded=result.uploaded, bytes=result.bytes,
        bytes_uploaded=result.bytes_uploaded, latest=result.latest, run_id=run_id,
        error=result.error)
