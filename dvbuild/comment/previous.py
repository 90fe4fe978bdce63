"""What the comment compares with: each package's last published manifest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dvbuild import console


def previous_manifests(store_url: str | None, names: list[str],
                       environ: Mapping[str, str]) -> dict[str, dict[str, Any] | None]:
    """The last published manifest of each package; {} when the store cannot be read
    (the comment then shows no changes, and says nothing false)."""
    if not store_url:
        return {}
    try:
        from dvbuild import publish
        from dvbuild.stores import open_store

        store = open_store(store_url, environ)
        found: dict[str, dict[str, Any] | None] = {}
        for name in names:
            latest = publish.latest(store, name)
            found[name] = publish.read_manifest(store, name, str(latest["version"])) if latest else None
        return found
    except Exception as e:  # a comment without the comparison beats no comment
        console.log(f"warning: cannot read the last published versions from {store_url}: {e}")
        return {}
