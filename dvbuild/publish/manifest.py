"""What a version is: its files, the canonical manifest they hash to, its id and keys."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dvbuild.errors import ServiceError
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


def canonical_manifest(files: Sequence[Mapping[str, Any]]) -> bytes:
    """Sorted paths with their sha256 and size, as compact JSON: what a version id hashes."""
    rows = sorted(({"path": f["path"], "sha256": f["sha256"], "bytes": int(f["bytes"])}
                   for f in files), key=lambda f: f["path"])
    return json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()


def version_id(semver: str, files: Sequence[Mapping[str, Any]]) -> str:
    """`<semver>-<d12>`: the same files give the same version, always."""
    return f"{semver}-{hashlib.sha256(canonical_manifest(files)).hexdigest()[:12]}"


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def version_prefix(name: str, version: str) -> str:
    return f"{name}/versions/{version}/"


def manifest_key(name: str, version: str) -> str:
    return version_prefix(name, version) + MANIFEST


def latest_key(name: str) -> str:
    return f"{name}/{LATEST}"


def read_json(store: Store, key: str) -> dict[str, Any] | None:
    data = store.read(key)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        raise ServiceError(f"{store.url_for(key)}: not JSON") from None
    return doc if isinstance(doc, dict) else None
