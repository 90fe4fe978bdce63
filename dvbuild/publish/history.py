"""Reading a package's published history (complete versions only), and rolling back."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dvbuild.catalogs import Catalog
from dvbuild.errors import UsageError
from dvbuild.publish.catalog import record_rollback
from dvbuild.publish.manifest import MANIFEST, manifest_key, now_iso, read_json
from dvbuild.publish.pointer import latest, move_latest
from dvbuild.stores import Store


def read_manifest(store: Store, name: str, version: str) -> dict[str, Any] | None:
    """A complete version's _manifest.json, or None if the version is not complete."""
    return read_json(store, manifest_key(name, version))


def versions(store: Store, name: str) -> list[str]:
    """Complete versions of a package (those with a _manifest.json), newest first."""
    return [m["version"] for m in manifests(store, name)]


def manifests(store: Store, name: str) -> list[dict[str, Any]]:
    """The manifests of every complete version, newest first."""
    found = []
    prefix = f"{name}/versions/"
    for key in store.keys(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 2 and parts[1] == MANIFEST:
            manifest = read_manifest(store, name, parts[0])
            if manifest is not None:
                found.append(manifest)
    return sorted(found, key=lambda m: (str(m.get("published", "")), m["version"]), reverse=True)


def rollback(store: Store, name: str, version: str, *,
             catalog: Catalog | None = None) -> dict[str, Any]:
    """Point latest.json at an existing complete version; returns the new latest.json."""
    data = store.read(manifest_key(name, version))
    if data is None:
        known = versions(store, name)
        raise UsageError(f"{name}: no complete version {version!r} in {store.url}",
                         hint="complete versions: " + (", ".join(known) if known else "none"))
    published = now_iso()
    move_latest(store, name, version, hashlib.sha256(data).hexdigest(), published, force=True)
    if catalog is not None:
        record_rollback(catalog, store, name, version, json.loads(data), published)
    return latest(store, name) or {}
