"""Publishing: a built package directory → an immutable, complete version in a store.

    <store>/<name>/versions/<version>/<files>          uploaded first (skipped if the
                                                       same sha256 is already there)
    <store>/<name>/versions/<version>/_manifest.json   written last: the version is complete
    <store>/<name>/latest.json                         moved forward only, conditionally

`<version>` is `<semver>-<d12>`, d12 being the head of the sha256 of the
canonical manifest of what a consumer reads (Bundle.content: the descriptor
without run-volatile fields, the resource files, the docs; not the executed
notebooks), so the same data always lands under the same key and a rerun
finishes what an interrupted run began. A test run's output is refused unless
allowed (`dvbuild local` allows it). The catalog is written after the
store, so it never points at files that are not there.

Where each step lives:

    bundle.py     collect(): check a package directory, hash its files → Bundle
    contents.py   which files a version holds; paths checked to stay inside the folder
    resources.py  per-resource bytes/rows/columns for the manifest
    manifest.py   FileEntry, canonical manifest, version id, store keys
    protocol.py   publish_dirs(): upload → _manifest.json → latest.json → catalog
    upload.py     parallel uploads that skip files already stored
    pointer.py    latest.json: read it, move it forward (conditional write)
    history.py    versions, manifests, rollback
    catalog.py    package/version/run documents for the catalog
    result.py     PublishResult and the summary line
"""

from __future__ import annotations

from dvbuild.publish.bundle import REPORT, Bundle, collect
from dvbuild.publish.contents import DOCS
from dvbuild.publish.history import manifests, read_manifest, rollback, versions
from dvbuild.publish.manifest import (
    JSON_TYPE,
    LATEST,
    MANIFEST,
    TYPES,
    FileEntry,
    canonical_manifest,
    content_type,
    now_iso,
    version_id,
)
from dvbuild.publish.pointer import holds_latest, latest, move_latest
from dvbuild.publish.protocol import publish_bundle, publish_dirs
from dvbuild.publish.result import PublishResult

__all__ = [
    "DOCS", "JSON_TYPE", "LATEST", "MANIFEST", "REPORT", "TYPES", "Bundle",
    "FileEntry", "PublishResult", "canonical_manifest", "collect", "content_type",
    "holds_latest", "latest", "manifests", "move_latest", "now_iso", "publish_bundle",
    "publish_dirs", "read_manifest",
    "rollback", "version_id", "versions",
]
