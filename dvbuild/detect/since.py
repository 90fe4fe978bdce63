"""`detect --since-published STORE`: packages whose inputs differ from what was published.

Refs forget: a build that failed or was skipped is not in the next push's diff.
The store remembers: each version's `_manifest.json` records the input hash it
was built from. Comparing that with the hash at head selects exactly the
packages whose published output is stale, whatever happened to the refs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dvbuild.detect import inputs, refs, tree
from dvbuild.detect.selection import Detection, check_nesting
from dvbuild.package import Package
from dvbuild.settings import Settings

READERS = 16  # store reads run in parallel: one or two small objects per package


def since_published(settings: Settings, store_url: str, *, head: str | None = None) -> Detection:
    from dvbuild import publish
    from dvbuild.stores import open_store

    head_sha = refs.need(head or "HEAD", settings.git_root)
    blobs, contents = tree.descriptors(settings, head_sha)
    check_nesting(blobs, blobs)
    packages = tree.load(settings, blobs, sorted(blobs), contents)
    hashes = inputs.input_hashes(settings, packages, head_sha)
    store = open_store(store_url, settings.environ)

    def recorded(package: Package) -> tuple[str | None, str | None]:
        latest = publish.latest(store, package.name)
        version = latest.get("version") if latest else None
        if not isinstance(version, str):
            return None, None
        manifest = publish.read_manifest(store, package.name, version) or {}
        return version, _str(manifest.get("input_hash"))

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        published = dict(zip([p.name for p in packages], pool.map(recorded, packages), strict=True))
    found = Detection(base=None, head=head_sha,
                      notices=[f"compared input hashes at {head_sha[:7]} with {store_url}"])
    for p in packages:
        why = stale(hashes[p.name], *published[p.name])
        if why:
            found.packages.append(p)
            found.reasons[p.path] = [why]
    found.all = len(found.packages) == len(packages) and bool(packages)
    return found


def stale(current: str, version: str | None, recorded: str | None) -> str | None:
    """Why the package needs a build, or None when its published version is current."""
    if version is None:
        return "never published"
    if recorded is None:
        return f"version {version} records no input hash"
    if recorded != current:
        return f"inputs changed since version {version} ({recorded[:12]} -> {current[:12]})"
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

