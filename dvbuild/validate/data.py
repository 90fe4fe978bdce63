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
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, TypeVar

from dvbuild.errors import Problem

STATS = ("bytes", "hash", "rows")
T = TypeVar("T")

MAX_ERRORS = 20  # per resource: enough to see the pattern without flooding the log
COUNT_ERRORS = 1000  # frictionless stops here: past it the count is "1000+"
JSON_FORMATS = ("json", "jsonl", "ndjson")


def check(descriptor: Mapping[str, Any], file: str, folder: Path) -> list[Problem]:
    problems: list[Problem] = []
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        return problems
    for i, r in enumerate(resources):
        if isinstance(r, dict) and isinstance(r.get("path"), str):
            at = f"/resources/{i}"
            found, more = _resource(r, at, file, folder)
            problems += capped(found, MAX_ERRORS, more,
                               _problem(file, f"{r['path']}: ", at))
    return problems


def _problem(file: str, prefix: str, at: str) -> Callable[[str], Problem]:
    return lambda text: Problem(file, prefix + text, at)


class DataErrors(NamedTuple):
    messages: list[str]  # the first `limit_errors`, then "… and N more errors"
    total: int  # every error found
    more: bool  # frictionless stopped counting at COUNT_ERRORS: `total` is a lower bound


def data_errors(resource: Mapping[str, Any], folder: Path, *, limit_rows: int | None = None,
                limit_errors: int = MAX_ERRORS) -> DataErrors:
    """One resource's data problems as messages (for test reports). Use this rather than
    frictionless's own `Resource.validate()`: frictionless 5 cannot count the `bytes` of a
    Parquet or JSON file, and fails them with "actual is None"."""
    if not isinstance(resource.get("path"), str):
        return DataErrors([], 0, False)
    found, more = _resource(dict(resource), "", "", folder, limit_rows=limit_rows)
    messages = [p.message for p in found]
    return DataErrors(capped(messages, limit_errors, more, lambda text: text), len(found), more)


def capped(found: list[T], limit: int, more: bool, say: Callable[[str], T]) -> list[T]:
    """The first `limit` errors, then one saying how many were left out."""
    if len(found) <= limit and not more:
        return found
    rest = len(found) - limit
    return found[:limit] + [say(f"… and {rest}{'+' if more else ''} more errors")]


def _resource(r: dict[str, Any], at: str, file: str, folder: Path, *,
              limit_rows: int | None = None) -> tuple[list[Problem], bool]:
    """Every problem (frictionless stops at COUNT_ERRORS: then True, there are more)."""
    path = folder / r["path"]
    if not path.is_file():
        return [Problem(file, f"data file {r['path']!r} does not exist", at + "/path",
                        expected="the file the notebooks write")], False
    found = _stats_problems(r, path, at, file)
    from frictionless import Resource

    try:
        resource = Resource.from_descriptor(_tabular(r), basepath=str(folder))
        report = resource.validate(limit_rows=limit_rows, limit_errors=COUNT_ERRORS)
    except Exception as e:  # frictionless raises on unreadable data; report, don't crash
        return found + [Problem(file, f"cannot read {r['path']!r}: {e}", at,
                                expected="data frictionless can read")], False
    errors = report.flatten(["rowNumber", "fieldName", "type", "note", "cell", "message"])
    for row, field, kind, note, cell, message in errors:
        where = "".join([f"row {row}" if row else "", f", field {field!r}" if field else ""])
        where = f" ({where.lstrip(', ')})" if where else ""
        value = f" value {str(cell)[:80]!r}:" if cell not in (None, "") else ""
        # an extra or missing cell has no note: frictionless's message then explains it
        found.append(Problem(file, f"{r['path']}{where}: {kind}:{value} {note or message}", at,
                             expected="data matching the descriptor"))
    return found, len(errors) >= COUNT_ERRORS


def _tabular(r: Mapping[str, Any]) -> dict[str, Any]:
    """The descriptor frictionless should check the data with: without the stats we check
    ourselves, and a JSON resource with a Table Schema typed `table` (frictionless
    otherwise types JSON `json` and never reads its rows against the schema)."""
    plain = {k: v for k, v in r.items() if k not in STATS}
    fmt = str(r.get("format") or PurePosixPath(str(r.get("path", ""))).suffix.lstrip(".")).lower()
    if fmt in JSON_FORMATS and isinstance(r.get("schema"), dict) and "type" not in plain:
        plain["type"] = "table"
    return plain


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

