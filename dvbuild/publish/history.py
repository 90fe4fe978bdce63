"""Reading a package's published history (complete versions only), and rolling back."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dvbuild import console
from dvbuild.catalogs import Catalog
from dvbuild.errors import ServiceError, UsageError
from dvbuild.publish.catalog import record_rollback
from dvbuild.publish.manifest import MANIFEST, manifest_key, now_iso, package_prefix, read_json
from dvbuild.publish.pointer import latest, move_latest
from dvbuild.stores import Store


def _manifest_of(data: bytes, version: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) and doc.get("version") == version else None


def read_manifest(store: Store, name: str, version: str) -> dict[str, Any] | None:
    """A complete version's _manifest.json, or None if the version is not complete."""
    return read_json(store, manifest_key(name, version))


def versions(store: Store, name: str) -> list[str]:
    """Complete versions of a package (those with a _manifest.json), newest first."""
    return [m["version"] for m in manifests(store, name)]


def manifests(store: Store, name: str) -> list[dict[str, Any]]:
    """The manifests of every complete version, newest first. A _manifest.json that is
    not a JSON object naming its own version is skipped, with a warning: whatever wrote
    it, no reader can check a version against it."""
    found = []
    prefix = f"{package_prefix(name)}versions/"
    for key in store.keys(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 2 and parts[1] == MANIFEST:
            try:
                manifest = read_manifest(store, name, parts[0])
            except (ServiceError, UsageError) as e:
                manifest = {"error": str(e)}
            if manifest is not None and manifest.get("version") == parts[0]:
                found.append(manifest)
            elif manifest is not None:
                console.log(f"warning: {store.url_for(key)}: not a manifest of version "
                            f"{parts[0]!r}; that version is left out")
    return sorted(found, key=lambda m: (str(m.get("published", "")), m["version"]), reverse=True)


def rollback(store: Store, name: str, version: str, *,
             catalog: Catalog | None = None) -> dict[str, Any]:
    """Point latest.json at an existing complete version; returns the new latest.json."""
    data = store.read(manifest_key(name, version))
    if data is None or _manifest_of(data, version) is None:  # never point at a broken one
        known = versions(store, name)
        raise UsageError(f"{name}: no complete version {version!r} in {store.url}",
                         hint="complete versions: " + (", ".join(known) if known else "none"))
    published = now_iso()
    move_latest(store, name, version, hashlib.sha256(data).hexdigest(), published, force=True)
    if catalog is not None:
        record_rollback(catalog, store, name, version, _manifest_of(data, version) or {}, published)
    return latest(store, name) or {}
