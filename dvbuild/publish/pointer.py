"""latest.json: which complete version a package's readers get, moved forward only."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from dvbuild.catalogs import published_ms
from dvbuild.errors import ServiceError
from dvbuild.publish.manifest import JSON_TYPE, latest_key, read_json
from dvbuild.stores import CACHE_NONE, Store


def latest(store: Store, name: str) -> dict[str, Any] | None:
    """The package's latest.json ({"version", "manifest_sha256", "published"}), or None."""
    return read_json(store, latest_key(name))


def move_latest(store: Store, name: str, version: str, manifest_sha256: str, published: str,
                *, force: bool = False) -> bool:
    """Point latest.json at `version` unless it already does or a newer publish owns it
    (`force`: rollback). A conditional write closes the race between two jobs."""
    key = latest_key(name)
    body = {"version": version, "manifest_sha256": manifest_sha256, "published": published}
    data = (json.dumps(body, indent=2) + "\n").encode()
    for _ in range(20):
        current = store.read_versioned(key)
        if current is not None and not force and not _is_newer(body, json.loads(current.data)):
            return False
        if store.write_if(key, data, token=current.token if current else None,
                          content_type=JSON_TYPE, cache_control=CACHE_NONE):
            return True
        time.sleep(0.05)
    raise ServiceError(f"{store.url_for(key)}: kept changing while dvbuild tried to move it",
                       hint="another publish of this package is running; run again")


def _is_newer(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    if theirs.get("version") == ours["version"]:
        return False
    try:
        mine, other = published_ms(ours["published"]), published_ms(str(theirs.get("published")))
    except ValueError:
        return True  # an unreadable latest.json is replaced
    return (mine, ours["version"]) > (other, str(theirs.get("version")))
