"""The publish protocol over a Store: upload → _manifest.json → latest.json → catalog.

Each step is safe to interrupt: files under a version key are inert until the
manifest exists, the manifest is create-only, and latest.json only ever moves
to a version whose manifest is already there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dvbuild.catalogs import Catalog, open_catalog
from dvbuild.errors import ConfigError, DvbuildError
from dvbuild.package import DESCRIPTOR
from dvbuild.publish.bundle import Bundle, collect_all, refuse_test_output
from dvbuild.publish.catalog import publish_catalog, record_failure
from dvbuild.publish.manifest import JSON_TYPE, MANIFEST, now_iso, version_prefix
from dvbuild.publish.pointer import holds_latest, move_latest
from dvbuild.publish.result import PublishResult, log_summary
from dvbuild.publish.upload import upload
from dvbuild.stores import CACHE_IMMUTABLE, Store, open_store


def publish_dirs(
    dirs: Sequence[Path], store_url: str, catalog_url: str | None, *,
    environ: Mapping[str, str], commit: str | None = None, input_hash: str | None = None,
    allow_test_output: bool = False,
) -> list[PublishResult]:
    """Publish each directory as one version, one result per directory, in order. A
    directory whose input is refused fails alone (its result names the problems); only
    when every one is refused (or none is given, or one is given twice) does this raise,
    before anything is written. A store or catalog failure fails that package only.
    A test run's output (report.json `mode: test`) is refused, before anything is
    written, unless `allow_test_output` (what `dvbuild local` publishes)."""
    checked = collect_all(dirs, commit=commit, input_hash=input_hash)
    if not allow_test_output:
        refuse_test_output(dirs, checked)
    store = open_store(store_url, environ)
    catalog = open_catalog(catalog_url, environ) if catalog_url else None
    run_id = environ.get("GITHUB_RUN_ID")
    return [publish_bundle(store, catalog, c, run_id=run_id) if isinstance(c, Bundle)
            else refused(Path(d), c) for d, c in zip(dirs, checked, strict=True)]


def refused(folder: Path, error: ConfigError) -> PublishResult:
    """The result of a directory publish would not take: failed, with its problems."""
    result = PublishResult(name=_name_of(folder), dir=str(folder))
    result.fail(error)
    result.problems = [p.as_dict() for p in error.problems]
    log_summary(result)
    return result


def _name_of(folder: Path) -> str:
    """The package's name for the result: the descriptor's, when it can be read, else
    the folder's (OUT/<name>/)."""
    try:
        name = json.loads((folder / DESCRIPTOR).read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else folder.name


def publish_bundle(store: Store, catalog: Catalog | None, bundle: Bundle, *,
                   run_id: str | None = None) -> PublishResult:
    """Upload → manifest → latest.json → catalog. Errors are caught into the result."""
    result = PublishResult(name=bundle.name, dir=str(bundle.folder), version=bundle.version,
                           files=len(bundle.files), bytes=bundle.bytes)
    started, clock = now_iso(), time.monotonic()
    try:
        manifest = _publish_store(store, bundle, started, result)
    except (DvbuildError, OSError) as e:
        result.fail(e)
        if catalog is not None:  # status shows failed publishes too, when it can
            result.seconds = round(time.monotonic() - clock, 3)
            record_failure(catalog, bundle, result, started, run_id)
    else:
        if catalog is not None:
            try:
                publish_catalog(catalog, store, manifest, result, started, run_id)
                result.catalog = True
            except (DvbuildError, OSError) as e:
                result.fail(e)
    result.seconds = round(time.monotonic() - clock, 3)
    log_summary(result)
    return result


def _publish_store(store: Store, bundle: Bundle, started: str,
                   result: PublishResult) -> dict[str, Any]:
    prefix = version_prefix(bundle.name, bundle.version)
    existing = store.read(prefix + MANIFEST)
    if existing is None:
        upload(store, prefix, bundle.files, result)
        existing = _write_manifest(store, prefix + MANIFEST, bundle.manifest(published=started))
        result.status = "published"
    else:
        result.skipped = len(bundle.files)
    manifest = json.loads(existing)
    result.manifest_url = store.url_for(prefix + MANIFEST)
    result.latest_moved = move_latest(store, bundle.name, bundle.version,
                                      hashlib.sha256(existing).hexdigest(), started)
    # a racing publish that moved it after us makes ours not latest: ask after it would have
    result.latest = holds_latest(store, bundle.name, bundle.version,
                                 hashlib.sha256(existing).hexdigest(), started,
                                 moved=result.latest_moved)
    if result.latest_moved or result.status == "published":
        result.status = "published"
    else:
        result.status = "unchanged"
    return dict(manifest)


def _write_manifest(store: Store, key: str, manifest: Mapping[str, Any]) -> bytes:
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    if store.write_if(key, data, token=None, content_type=JSON_TYPE, cache_control=CACHE_IMMUTABLE):
        return data
    # Another job completed the same version first: theirs is the manifest.
    theirs = store.read(key)
    return theirs if theirs is not None else data
