"""What a version is: its files, the canonical manifest they hash to, its id and keys."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dvbuild.errors import ServiceError, UsageError
from dvbuild.package import NAME_RULE, name_problem
from dvbuild.stores import Store

MANIFEST = "_manifest.json"
LATEST = "latest.json"
JSON_TYPE = "application/json"
TYPES = {
    ".csv": "text/csv", ".json": JSON_TYPE, ".geojson": "application/geo+json",
    ".ipynb": "application/x-ipynb+json", ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True)
class FileEntry:
    path: str  # posix, relative to the package directory and the version folder
    source: Path
    bytes: int
    sha256: str
    content_type: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}


# datapackage.json fields a run changes without the data changing (Data Package
# `created`: when the descriptor was written); the version id hashes the rest
RUN_VOLATILE = ("created",)


def descriptor_entry(path: str, descriptor: Mapping[str, Any]) -> dict[str, Any]:
    """datapackage.json as the version id sees it: its canonical JSON without the
    run-volatile fields, so key order, whitespace and a timestamp make no new version."""
    kept = {k: v for k, v in descriptor.items() if k not in RUN_VOLATILE}
    data = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def canonical_manifest(files: Sequence[Mapping[str, Any]]) -> bytes:
    """Sorted paths with their sha256 and size, as compact JSON: what a version id hashes."""
    rows = sorted(({"path": f["path"], "sha256": f["sha256"], "bytes": int(f["bytes"])}
                   for f in files), key=lambda f: f["path"])
    return json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()


def version_id(semver: str, files: Sequence[Mapping[str, Any]]) -> str:
    """`<semver>-<d12>`: the same files give the same version, always (a Bundle passes
    what a consumer reads: Bundle.content)."""
    return f"{semver}-{hashlib.sha256(canonical_manifest(files)).hexdigest()[:12]}"


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# what a version id may look like in a key: `<semver>-<d12>`, never `..` or a `/`
_VERSION_KEY = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*\Z")


def package_prefix(name: str) -> str:
    """`<name>/`; a name that is not a package name (`../x`, '') is a UsageError, so no
    key ever leaves the package's folder of the store."""
    why = name_problem(name)
    if why is not None:
        raise UsageError(f"{why}: not a package name", hint=f"a package name is {NAME_RULE}")
    return f"{name}/"


def version_prefix(name: str, version: str) -> str:
    if not _VERSION_KEY.match(version) or ".." in version:
        raise UsageError(f"version {version[:80]!r} is not a version id",
                         hint="`dvbuild versions NAME` lists them")
    return f"{package_prefix(name)}versions/{version}/"


def manifest_key(name: str, version: str) -> str:
    return version_prefix(name, version) + MANIFEST


def latest_key(name: str) -> str:
    return package_prefix(name) + LATEST


def read_json(store: Store, key: str) -> dict[str, Any] | None:
    data = store.read(key)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):  # also bad UTF-8, and an int of 5000 digits
        raise ServiceError(f"{store.url_for(key)}: not JSON") from None
    return doc if isinstance(doc, dict) else None
