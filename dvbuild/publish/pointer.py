"""latest.json: which complete version a package's readers get, moved forward only."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from dvbuild import console
from dvbuild.catalogs import published_ms
from dvbuild.errors import ServiceError
from dvbuild.publish.manifest import JSON_TYPE, latest_key
from dvbuild.stores import CACHE_NONE, Store

# Seconds a racing publish's write of latest.json may trail ours (two jobs that finish
# together move it within milliseconds on disk, within request round trips on S3).
SETTLE = {"file": 0.25}
SETTLE_DEFAULT = 1.0


class UnreadableLatest(ServiceError):
    """latest.json is there but names no version: the store answered, the document is bad."""


def latest(store: Store, name: str, *, strict: bool = True) -> dict[str, Any] | None:
    """The package's latest.json ({"version", "manifest_sha256", "published"}), or None.
    An unreadable one (not a JSON object naming a version) is a ServiceError that says
    how to replace it; `strict=False`: a warning, and None."""
    key = latest_key(name)
    data = store.read(key)
    doc = None if data is None else _parse(data)
    if data is None or doc is not None:
        return doc
    message = f"{store.url_for(key)}: unreadable (not a JSON object with a version)"
    hint = f"the next publish replaces it, or `dvbuild publish --rollback VERSION {name}`"
    if strict:
        raise UnreadableLatest(message, hint=hint)
    console.log(f"warning: {message}; {hint}")
    return None


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):  # also UnicodeDecodeError, and a 5000-digit int
        return None
    ok = isinstance(doc, dict) and isinstance(doc.get("version"), str)
    return doc if ok else None


def move_latest(store: Store, name: str, version: str, manifest_sha256: str, published: str,
                *, force: bool = False) -> bool:
    """Point latest.json at `version` unless it already does or a newer publish owns it
    (`force`: rollback). A conditional write closes the race between two jobs; a store
    that ignores the condition (S3 through some gateways) is caught by reading back."""
    key = latest_key(name)
    body = {"version": version, "manifest_sha256": manifest_sha256, "published": published}
    data = (json.dumps(body, indent=2) + "\n").encode()
    for _ in range(20):
        current = store.read_versioned(key)
        theirs = _parse(current.data) if current is not None else None
        # an unreadable latest.json is replaced (theirs is None)
        if theirs is not None and not force and not _is_newer(body, theirs):
            return False
        if store.write_if(key, data, token=current.token if current else None,
                          content_type=JSON_TYPE, cache_control=CACHE_NONE) \
                and store.read(key) == data:
            return True
        time.sleep(0.05)
    raise ServiceError(f"{store.url_for(key)}: kept changing while dvbuild tried to move it",
                       hint="another publish of this package is running; run again")


def holds_latest(store: Store, name: str, version: str, manifest_sha256: str,
                 published: str, *, moved: bool) -> bool:
    """Whether latest.json names `version` once a racing publish would have written it too:
    of two publishes that both moved it, only the one whose write stayed says so. After
    our own write (`moved`) wait SETTLE first; a racing write that put an older version
    over ours (a store without conditional writes) is undone, then checked again."""
    for _ in range(3):
        if moved:
            time.sleep(SETTLE.get(urlsplit(store.url).scheme, SETTLE_DEFAULT))
        current = latest(store, name)
        if current is not None and current.get("version") == version:
            return True
        moved = move_latest(store, name, version, manifest_sha256, published)
        if not moved:
            return False
    return False


def _is_newer(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    if theirs.get("version") == ours["version"]:
        return False
    try:
        mine, other = published_ms(ours["published"]), published_ms(str(theirs.get("published")))
    except (ValueError, OverflowError):
        return True  # an unreadable latest.json is replaced
    return (mine, ours["version"]) > (other, str(theirs.get("version")))
