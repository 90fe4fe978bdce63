"""A published resource's files → one pandas DataFrame, typed by its Table Schema.

CSV is read as text (the schema's `missingValues`, default `[""]`, become
missing), then each field gets its type; Parquet keeps the types it carries
and only its text columns are converted; JSON is an array of objects (or of
arrays, the first one the header). A value that does not fit its field's type
is an error, never a silently wrong column. pandas (and pyarrow for Parquet)
are imported only here, only when a table is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from dvbuild.errors import MissingDependency

FORMATS = ("csv", "parquet", "json")
_MEDIATYPES = {"text/csv": "csv", "application/vnd.apache.parquet": "parquet",
               "application/json": "json"}
TRUE = ("true", "True", "TRUE", "1")
FALSE = ("false", "False", "FALSE", "0")


def table_format(resource: Mapping[str, Any], paths: Sequence[str]) -> str | None:
    """csv/parquet/json as the descriptor says (`format`, the path's suffix, `mediatype`)."""
    declared = str(resource.get("format") or "").lower()
    suffix = PurePosixPath(paths[0]).suffix.lstrip(".").lower() if paths else ""
    media = str(resource.get("mediatype") or resource.get("mediaType") or "")
    for candidate in (declared, suffix, _MEDIATYPES.get(media.split(";")[0], "")):
        if candidate:
            return candidate if candidate in FORMATS else None
    return None


def read_table(files: Sequence[Path], resource: Mapping[str, Any], fmt: str) -> Any:
    """All files of one resource as one DataFrame; ValueError when they do not fit."""
    pd = _pandas()
    schema = _mapping(resource.get("schema"))
    fields = [f for f in schema.get("fields") or [] if isinstance(f, dict) and f.get("name")]
    frames: list[Any] = []
    for file in files:
        columns = list(frames[0].columns) if frames else [str(f["name"]) for f in fields]
        frames.append(_READERS[fmt](pd, file, resource, schema, columns, not frames))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return typed(frame, fields)


def typed(frame: Any, fields: Sequence[Mapping[str, Any]]) -> Any:
    for field in fields:
        name, kind = str(field["name"]), str(field.get("type") or "")
        if name in frame.columns and kind in _CONVERT:
            try:
                frame[name] = _CONVERT[kind](frame[name], field)
            except (ValueError, TypeError, OverflowError) as e:
                raise ValueError(f"field {name!r}: not every value is a {kind} ({e})") from None
    return frame


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependency("pandas", "data") from None
    return pandas


def _csv(pd: Any, file: Path, resource: Mapping[str, Any], schema: Mapping[str, Any],
         columns: list[str], first: bool) -> Any:
    dialect = _mapping(resource.get("dialect"))
    # a multi-file resource has its header in the first file only (Data Resource spec)
    header = bool(dialect.get("header", True)) and first
    return pd.read_csv(file, sep=dialect.get("delimiter", ","), dtype=str, keep_default_na=False,
                       na_values=list(schema.get("missingValues", [""])),
                       encoding=resource.get("encoding") or "utf-8",
                       header=0 if header else None, names=None if header else columns or None)


def _parquet(pd: Any, file: Path, resource: Mapping[str, Any], schema: Mapping[str, Any],
             columns: list[str], first: bool) -> Any:
    try:
        return pd.read_parquet(file)
    except ImportError:
        raise MissingDependency("pyarrow", "data") from None


def _json(pd: Any, file: Path, resource: Mapping[str, Any], schema: Mapping[str, Any],
          columns: list[str], first: bool) -> Any:
    data = json.loads(file.read_text(encoding=resource.get("encoding") or "utf-8"))
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return pd.DataFrame.from_records(data, columns=None if data else columns)
    if isinstance(data, list) and data and all(isinstance(row, list) for row in data):
        return pd.DataFrame(data[1:], columns=data[0])
    raise ValueError("not tabular JSON (expected an array of objects, or of arrays)")


_READERS: dict[str, Callable[..., Any]] = {"csv": _csv, "parquet": _parquet, "json": _json}


def _textual(series: Any) -> bool:
    from pandas.api import types

    return bool(types.is_object_dtype(series.dtype) or types.is_string_dtype(series.dtype))


def _integer(series: Any, field: Mapping[str, Any]) -> Any:
    from pandas.api import types

    if types.is_integer_dtype(series.dtype) or types.is_bool_dtype(series.dtype):
        return series
    numbers = _pandas().to_numeric(series)
    present = numbers.dropna()
    if (present != present.round()).any():
        raise ValueError("some are not whole numbers")
    return numbers.astype("Int64" if numbers.isna().any() else "int64")


def _number(series: Any, field: Mapping[str, Any]) -> Any:
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return series
    return _pandas().to_numeric(series).astype("float64")


def _boolean(series: Any, field: Mapping[str, Any]) -> Any:
    if not _textual(series):
        return series
    values = {**{str(v): True for v in field.get("trueValues", TRUE)},
              **{str(v): False for v in field.get("falseValues", FALSE)}}

    def one(value: Any) -> bool | None:
        if _missing(value) or isinstance(value, bool):
            return None if _missing(value) else value
        if str(value) not in values:
            raise ValueError(f"{value!r}")
        return values[str(value)]

    out = series.map(one)
    return out.astype("boolean" if out.isna().any() else "bool")


def _when(series: Any, field: Mapping[str, Any]) -> Any:
    """Parse date/datetime/time text: ISO 8601 unless the field gives a strptime `format`."""
    pd = _pandas()
    fmt = field.get("format")
    fmt = "ISO8601" if fmt in (None, "", "default") else "mixed" if fmt == "any" else fmt
    if fmt == "ISO8601" and field.get("type") == "time":
        fmt = "%H:%M:%S"
    try:
        return pd.to_datetime(series, format=fmt)
    except ValueError:  # offsets that differ between rows: one zone, UTC
        return pd.to_datetime(series, format=fmt, utc=True)


def _datetime(series: Any, field: Mapping[str, Any]) -> Any:
    return _when(series, field) if _textual(series) else series


def _date(series: Any, field: Mapping[str, Any]) -> Any:
    """Python dates (what Datapackage.add_resource types as `date`), None when missing."""
    if not _textual(series) or _all_objects(series, "date"):
        return series
    parsed = _when(series, field)
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def _time(series: Any, field: Mapping[str, Any]) -> Any:
    if not _textual(series) or _all_objects(series, "time"):
        return series
    parsed = _when(series, field)
    return parsed.dt.time.astype(object).where(parsed.notna(), None)


def _all_objects(series: Any, kind: str) -> bool:
    import datetime as dt

    cls = dt.date if kind == "date" else dt.time
    return all(isinstance(v, cls) for v in series.dropna())


def _nested(series: Any, field: Mapping[str, Any]) -> Any:
    """object/array fields: JSON text in CSV, already parsed in JSON and Parquet."""
    return series.map(lambda v: json.loads(v) if isinstance(v, str) else v)


def _string(series: Any, field: Mapping[str, Any]) -> Any:
    return series if _textual(series) else series.astype(str).where(series.notna(), None)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or \
        type(value).__name__ in ("NAType", "NaTType")


_CONVERT: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "integer": _integer, "year": _integer, "number": _number, "boolean": _boolean,
    "date": _date, "datetime": _datetime, "time": _time, "object": _nested, "array": _nested,
    "string": _string,
}
