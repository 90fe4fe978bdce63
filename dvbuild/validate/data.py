"""`dvbuild validate --data`: read every resource's data and check it with frictionless.

Slow by nature (frictionless reads every row), so it runs only when asked for.
frictionless checks the data against the Table Schema; the recorded `bytes`,
`hash` and `rows` are checked here, because frictionless cannot count them for
Parquet and JSON files.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dvbuild.errors import Problem

STATS = ("bytes", "hash", "rows")

MAX_ERRORS = 20  # per resource: enough to see the pattern without flooding the log


def check(descriptor: Mapping[str, Any], file: str, folder: Path) -> list[Problem]:
    problems: list[Problem] = []
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        return problems
    for i, r in enumerate(resources):
        if isinstance(r, dict) and isinstance(r.get("path"), str):
            problems += _resource(r, f"/resources/{i}", file, folder)
    return problems


def data_errors(resource: Mapping[str, Any], folder: Path, *, limit_rows: int | None = None,
                limit_errors: int = MAX_ERRORS) -> list[str]:
    """One resource's data problems as messages (for test reports). Use this rather than
    frictionless's own `Resource.validate()`: frictionless 5 cannot count the `bytes` of a
    Parquet file or the `rows` of a JSON file, and fails them with "actual is None"."""
    if not isinstance(resource.get("path"), str):
        return []
    found = _resource(dict(resource), "", "", folder, limit_rows=limit_rows)
    return [p.message for p in found][:limit_errors]


def _resource(r: dict[str, Any], at: str, file: str, folder: Path, *,
              limit_rows: int | None = None) -> list[Problem]:
    path = folder / r["path"]
    if not path.is_file():
        return [Problem(file, f"data file {r['path']!r} does not exist", at + "/path",
                        expected="the file the notebooks write")]
    found = _stats_problems(r, path, at, file)
    from frictionless import Resource

    try:
        plain = {k: v for k, v in r.items() if k not in STATS}
        resource = Resource.from_descriptor(plain, basepath=str(folder))
        report = resource.validate(limit_rows=limit_rows, limit_errors=MAX_ERRORS)
    except Exception as e:  # frictionless raises on unreadable data; report, don't crash
        return found + [Problem(file, f"cannot read {r['path']!r}: {e}", at,
                                expected="data frictionless can read")]
    for row, field, kind, note, cell in report.flatten(["rowNumber", "fieldName", "type", "note", "cell"]):
        where = "".join([f"row {row}" if row else "", f", field {field!r}" if field else ""])
        where = f" ({where.lstrip(', ')})" if where else ""
        value = f" value {str(cell)[:80]!r}:" if cell not in (None, "") else ""
        found.append(Problem(file, f"{r['path']}{where}: {kind}:{value} {note}", at,
                             expected="data matching the descriptor"))
    if len(found) > MAX_ERRORS:
        more = len(found) - MAX_ERRORS
        found = found[:MAX_ERRORS] + [Problem(file, f"{r['path']}: {more} more errors", at)]
    return found


def _stats_problems(r: dict[str, Any], path: Path, at: str, file: str) -> list[Problem]:
    actual: dict[str, Any] = {"bytes": path.stat().st_size, "hash": _sha256(path)}
    if isinstance(r.get("hash"), str) and ":" not in r["hash"]:
        actual["hash"] = _md5(path)  # frictionless v1: a bare hash is an MD5
    if "rows" in r:
        actual["rows"] = count_rows(path, str(r.get("format") or path.suffix.lstrip(".")))
    found = []
    for key in STATS:
        if key in r and actual.get(key) is not None and r[key] != actual[key]:
            found.append(Problem(file, f"{key} is {r[key]!r} but {r['path']} has {actual[key]!r}",
                                 f"{at}/{key}", expected="the recorded value to match the file"))
    return found


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    return "sha256:" + _digest(path, "sha256")


def _md5(path: Path) -> str:
    return _digest(path, "md5")


def count_rows(path: Path, format: str) -> int | None:
    """Data rows in a CSV (without its header), Parquet or JSON (array) file."""
    try:
        if format == "parquet":
            import pyarrow.parquet as pq

            return int(pq.read_metadata(path).num_rows)
        if format == "json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return len(data) if isinstance(data, list) else None
        if format == "csv":
            with path.open(newline="", encoding="utf-8") as f:
                return max(sum(1 for _ in csv.reader(f)) - 1, 0)
    except (OSError, ValueError, ImportError, csv.Error):
        return None
    return None

