"""Per-resource facts for the manifest (bytes, rows, columns): what catalogs and PR diffs show."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvbuild.publish.contents import local_paths
from dvbuild.publish.manifest import FileEntry

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report


def summaries(root: Path, descriptor: Mapping[str, Any], report: Report | None,
              files: Sequence[FileEntry]) -> list[dict[str, Any]]:
    """Per resource: name, path, format, bytes, rows, columns — for catalog and PR diffs."""
    by_path = {f.path: f for f in files}
    found = report.get("resources") if report else None
    reported = {r.get("name"): r for r in found or [] if isinstance(r, dict)}
    out = []
    for i, res in enumerate(descriptor.get("resources") or []):
        if not isinstance(res, dict):
            continue
        name = str(res.get("name") or f"resource-{i}")
        local = [by_path[p] for _, p in local_paths(res) if p in by_path]
        rep = reported.get(name, {})
        out.append({
            "name": name, "path": res.get("path"), "format": res.get("format"),
            "mediatype": res.get("mediatype"), "bytes": sum(f.bytes for f in local),
            "sha256": local[0].sha256 if len(local) == 1 else None,
            "rows": _rows(res, rep, local),
            "columns": _columns(res, rep, local),
        })
    return out


def _rows(res: Mapping[str, Any], rep: Mapping[str, Any], local: Sequence[FileEntry]) -> int | None:
    for value in (rep.get("rows"), res.get("rows"), (res.get("stats") or {}).get("rows")):
        if isinstance(value, int):
            return value
    if len(local) == 1 and local[0].path.lower().endswith(".csv"):
        with local[0].source.open(newline="", encoding="utf-8", errors="replace") as f:
            return max(0, sum(1 for _ in csv.reader(f)) - 1)
    return None


def _columns(res: Mapping[str, Any], rep: Mapping[str, Any],
             local: Sequence[FileEntry]) -> list[dict[str, Any]]:
    schema = res.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
        return [{"name": f.get("name"), "type": f.get("type", "any")}
                for f in schema["fields"] if isinstance(f, dict)]
    if isinstance(rep.get("columns"), list):
        return [{"name": c.get("name"), "type": c.get("type")}
                for c in rep["columns"] if isinstance(c, dict)]
    if len(local) == 1 and local[0].path.lower().endswith(".csv"):
        with local[0].source.open(newline="", encoding="utf-8", errors="replace") as f:
            header = next(csv.reader(f), [])
        return [{"name": h, "type": None} for h in header]
    return []
