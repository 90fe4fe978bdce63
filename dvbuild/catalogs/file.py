"""The embedded catalog: one JSON file per document under `file:///dir`.

    <dir>/dvbuild-packages/<name>.json
    <dir>/dvbuild-versions/<name>@<version>.json
    <dir>/dvbuild-runs/<name>@<started>[@<ci run id>].json

Writes are atomic (the file store's temp-file-and-rename), and the package
document is replaced under a lock only by one with a larger `published_ms`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from dvbuild.catalogs import PACKAGES, RUNS, VERSIONS, run_id
from dvbuild.stores.file import FileStore

if TYPE_CHECKING:
    from dvbuild.catalogs.runs import RunDocument

JSON = "application/json"


class FileCatalog:
    def __init__(self, root: Path) -> None:
        self.store = FileStore(root)
        self.url = self.store.url

    @classmethod
    def from_url(cls, url: str) -> FileCatalog:
        return cls(FileStore.from_url(url).root)

    def publish(self, package: Mapping[str, Any], version: Mapping[str, Any],
                run: RunDocument) -> None:
        key = f"{VERSIONS}/{version['name']}@{version['version']}.json"
        if self.store.stat(key) is None:
            self.store.write(key, _dump(version), sha256="", content_type=JSON)
        self._put_package(package)
        self.record_run(run)

    def _put_package(self, package: Mapping[str, Any]) -> None:
        key = f"{PACKAGES}/{package['name']}.json"
        while True:
            current = self.store.read_versioned(key)
            if current and json.loads(current.data).get("published_ms", 0) >= package["published_ms"]:
                return  # a newer (or the same) publish got there first
            if self.store.write_if(key, _dump(package), token=current.token if current else None,
                                   content_type=JSON):
                return

    def record_run(self, run: RunDocument) -> None:
        self.store.write(f"{RUNS}/{run_id(run)}.json", _dump(run), sha256="", content_type=JSON)

    def runs(self, name: str | None = None) -> list[RunDocument]:
        docs = cast("list[RunDocument]", self._all(RUNS))
        if name is not None:
            docs = [d for d in docs if d.get("package") == name]
        return sorted(docs, key=lambda d: str(d.get("started", "")), reverse=True)

    def packages(self) -> list[dict[str, Any]]:
        return sorted(self._all(PACKAGES), key=lambda d: str(d.get("name", "")))

    def versions(self, name: str) -> list[dict[str, Any]]:
        docs = [d for d in self._all(VERSIONS) if d.get("name") == name]
        return sorted(docs, key=lambda d: str(d.get("published", "")), reverse=True)

    def _all(self, collection: str) -> list[dict[str, Any]]:
        docs = []
        for key in self.store.keys(collection):
            if key.endswith(".json"):
                data = self.store.read(key)
                if data is not None:
                    docs.append(json.loads(data))
        return docs


def _dump(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n").encode()
