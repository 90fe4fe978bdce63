"""What a run produced, per declared resource: exists, bytes, rows, columns, a preview,
and whether the resource validates (frictionless, on a bounded number of rows)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dvbuild.validate.data import DataErrors

PREVIEW_ROWS = 5
VALIDATE_ROWS = 10_000
MAX_ERRORS = 10
SAMPLE_ROWS = 1000


def check_resources(folder: Path, descriptor: dict[str, Any]) -> list[dict[str, Any]]:
    return [check_resource(folder, r) for r in descriptor.get("resources", []) if isinstance(r, dict)]


def check_resource(folder: Path, resource: dict[str, Any]) -> dict[str, Any]:
    rel = resource.get("path")
    rel = rel[0] if isinstance(rel, list) and rel else rel
    result: dict[str, Any] = {
        "name": resource.get("name"), "path": rel, "exists": False, "bytes": None, "rows": None,
        "columns": [], "preview": {"columns": [], "rows": []}, "valid": False, "errors": [],
    }
    if not isinstance(rel, str):
        result["valid"] = "data" in resource  # inline data needs no file
        return result
    file = _inside(folder, rel)
    if file is None:
        result["errors"] = [f"path {rel!r} leaves the package folder"]
        return result
    if not file.is_file():
        result["errors"] = [f"{rel}: the run did not produce this file"]
        return result
    result.update(exists=True, bytes=file.stat().st_size)
    try:
        result.update(_describe(file, _format(resource, file), resource))
    except Exception as e:  # a file we cannot read is reported, not fatal
        result["errors"].append(f"{rel}: could not read: {e}")
    result["errors"] += _stats(file, resource, result)
    data = _validate(folder, resource)
    if data is not None and data.total:
        result.update(error_count=len(result["errors"]) + data.total, more_errors=data.more)
        result["errors"] += data.messages
    result["valid"] = not result["errors"]
    return result


def _inside(folder: Path, rel: str) -> Path | None:
    base = folder.resolve()
    file = (folder / rel).resolve()
    return file if Path(rel).is_absolute() is False and file.is_relative_to(base) else None


def _format(resource: dict[str, Any], file: Path) -> str:
    fmt = str(resource.get("format") or file.suffix.lstrip(".")).lower()
    return {"jsonl": "ndjson", "pq": "parquet", "tsv": "tsv"}.get(fmt, fmt)


def _schema_columns(resource: dict[str, Any]) -> list[dict[str, str]]:
    schema = resource.get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    return [{"name": str(f.get("name")), "type": str(f.get("type", "any"))}
            for f in fields or [] if isinstance(f, dict)]


def _describe(file: Path, fmt: str, resource: dict[str, Any]) -> dict[str, Any]:
    if fmt == "parquet":
        return _parquet(file)
    if fmt in ("csv", "tsv"):
        dialect = resource.get("dialect")
        sep = dialect.get("delimiter", ",") if isinstance(dialect, dict) else ","
        delimiter = "\t" if fmt == "tsv" else str(sep)
        return _csv(file, delimiter, _schema_columns(resource))
    if fmt in ("json", "ndjson"):
        return _json(file, fmt == "ndjson", _schema_columns(resource))
    return {"columns": _schema_columns(resource)}


def _csv(file: Path, delimiter: str, declared: list[dict[str, str]]) -> dict[str, Any]:
    with file.open(newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, [])
        sample: list[list[str]] = []
        rows = 0
        for row in reader:
            if rows < SAMPLE_ROWS:
                sample.append(row)
            rows += 1
    columns = declared or [{"name": h, "type": _infer([r[i] for r in sample if i < len(r)])}
                           for i, h in enumerate(header)]
    return {"rows": rows, "columns": columns,
            "preview": {"columns": header, "rows": sample[:PREVIEW_ROWS]}}


def _infer(values: list[str]) -> str:
    values = [v for v in values if v != ""]
    for kind, test in (("integer", int), ("number", float)):
        try:
            for v in values:
                test(v)
            return kind if values else "string"
        except ValueError:
            continue
    if values and all(v.lower() in ("true", "false") for v in values):
        return "boolean"
    return "string"


def _json(file: Path, lines: bool, declared: list[dict[str, str]]) -> dict[str, Any]:
    text = file.read_text(encoding="utf-8")
    data = [json.loads(ln) for ln in text.splitlines() if ln.strip()] if lines else json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        return {"columns": declared}
    records = [r for r in data if isinstance(r, dict)]
    names: list[str] = list(dict.fromkeys(k for r in records[:SAMPLE_ROWS] for k in r))
    columns = declared or [{"name": n, "type": _json_type([r.get(n) for r in records[:SAMPLE_ROWS]])}
                           for n in names]
    preview = [[r.get(n) for n in names] for r in records[:PREVIEW_ROWS]]
    return {"rows": len(data), "columns": columns, "preview": {"columns": names, "rows": preview}}


def _json_type(values: list[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} and kinds:
        return "boolean"
    if kinds <= {int} and kinds:
        return "integer"
    if kinds <= {int, float} and kinds:
        return "number"
    if kinds <= {list}:
        return "array" if kinds else "any"
    return "object" if kinds <= {dict} else "string"


def _parquet(file: Path) -> dict[str, Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return {}
    pf = pq.ParquetFile(file)
    schema = pf.schema_arrow
    columns = [{"name": f.name, "type": _arrow_type(str(f.type))} for f in schema]
    head = next(pf.iter_batches(batch_size=PREVIEW_ROWS), None)
    rows = [] if head is None else [list(r.values()) for r in head.to_pylist()]
    return {"rows": pf.metadata.num_rows, "columns": columns,
            "preview": {"columns": schema.names, "rows": json.loads(json.dumps(rows, default=str))}}


def _arrow_type(t: str) -> str:
    for prefix, kind in (("int", "integer"), ("uint", "integer"), ("double", "number"),
                         ("float", "number"), ("decimal", "number"), ("bool", "boolean"),
                         ("timestamp", "datetime"), ("date", "date"), ("time", "time"),
                         ("list", "array"), ("struct", "object")):
        if t.startswith(prefix):
            return kind
    return "string"


def _stats(file: Path, resource: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """The declared bytes / hash / rows against the file. Checked here, not by frictionless,
    which cannot count bytes of formats it does not stream (Parquet)."""
    errors = []
    declared = resource.get("bytes")
    if isinstance(declared, int) and declared != found["bytes"]:
        errors.append(f"declared bytes {declared}, the file has {found['bytes']}")
    digest = resource.get("hash")
    if isinstance(digest, str) and digest:
        algorithm, _, value = digest.rpartition(":")
        if _digest(file, algorithm or "md5") not in (None, value.lower()):
            errors.append(f"declared hash {digest} does not match the file")
    rows = resource.get("rows")
    if isinstance(rows, int) and found.get("rows") is not None and rows != found["rows"]:
        errors.append(f"declared rows {rows}, the file has {found['rows']}")
    return errors


def _digest(file: Path, algorithm: str) -> str | None:
    import hashlib

    try:
        h = hashlib.new(algorithm)
    except ValueError:
        return None
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _validate(folder: Path, resource: dict[str, Any]) -> DataErrors | None:
    try:
        from dvbuild.validate.data import data_errors

        return data_errors(resource, folder, limit_rows=VALIDATE_ROWS, limit_errors=MAX_ERRORS)
    except ImportError:
        return None
