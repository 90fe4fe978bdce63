"""The notebook API: what NAV's dataverk `Datapackage` was, on top of datapackage.json.

    from dvbuild import Datapackage
    dp = Datapackage.here()
    dp.add_resource(df, name="ledighet", description="...", format="csv")
    dp.write()

Resources go to the output folder: `$DVBUILD_OUTPUT_DIR` (set by `dvbuild
test`/`run`) or, when a notebook is run by hand, the package folder itself.
Each resource is recorded frictionless-v5 style: `bytes`, `hash`
("sha256:<hex>"), `rows`, and a Table Schema inferred from the dtypes. `write()`
keeps every field it found (dvbuild's `schedule`, `parameters`, ...), so the
written descriptor still describes the same package. pandas is needed only for
DataFrames. The package folder may hold datapackage.yaml (.yml) instead; the
output always gets datapackage.json, the published form.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from dvbuild.errors import ConfigError, MissingDependency, Problem
from dvbuild.package import DESCRIPTOR, DESCRIPTORS, descriptor_name, read_descriptor

OUTPUT_ENV = "DVBUILD_OUTPUT_DIR"
FORMATS = {
    "csv": ("csv", "text/csv"),
    "parquet": ("parquet", "application/vnd.apache.parquet"),
    "json": ("json", "application/json"),
}
SPEC_TYPES = ("table", "vega-lite", "plotly")
# frictionless reads these through a library, not a byte stream: it cannot count their
# bytes and fails a declared `bytes` ("actual is None"); the store's manifest has them
UNCOUNTED_BYTES = ("parquet", "json")


class Datapackage:
    """One package's descriptor, being extended by a notebook."""

    def __init__(self, folder: Path, output_dir: Path | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.output_dir = Path(output_dir).resolve() if output_dir else self.folder
        # a second notebook of the same run continues from what the first one wrote
        source = self.output_dir / DESCRIPTOR
        if not source.is_file():
            source = self.folder / (descriptor_name(self.folder) or DESCRIPTOR)
        self.descriptor: dict[str, Any] = read_descriptor(source, str(source))

    @classmethod
    def here(cls, start: str | Path | None = None,
             environ: Mapping[str, str] | None = None) -> Datapackage:
        """The package the current notebook belongs to: the nearest folder at or above
        `start` (default: the working directory) holding a datapackage.json."""
        env = os.environ if environ is None else environ
        origin = Path(start or Path.cwd()).resolve()
        for folder in (origin, *origin.parents):
            if any((folder / n).is_file() for n in DESCRIPTORS):
                out = env.get(OUTPUT_ENV)
                return cls(folder, Path(out) if out else None)
        raise FileNotFoundError(f"no {DESCRIPTOR} in {origin} or any folder above it")

    @property
    def name(self) -> str:
        return str(self.descriptor.get("name", ""))

    @property
    def resources(self) -> list[dict[str, Any]]:
        found = self.descriptor.setdefault("resources", [])
        if not isinstance(found, list):
            raise ConfigError(Problem(DESCRIPTOR, "resources is not a list",
                                      pointer="/resources", expected="a list"))
        return found

    def resource(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.resources if isinstance(r, dict) and r.get("name") == name),
                    None)

    def add_resource(self, data: Any, name: str, description: str | None = None,
                     format: str = "csv", *, path: str | None = None,
                     title: str | None = None) -> dict[str, Any]:
        """Write `data` (a DataFrame, a list of records, or the path of a file the notebook
        wrote itself: recorded where it is when inside the output folder, else copied) and
        record it; returns the resource descriptor.

        A DataFrame's meaningful index is written as columns: a named index or a
        MultiIndex (pivot, groupby keys) as its levels, an unnamed index of labels as the
        column `index`; a RangeIndex or an unnamed integer index (row numbers) is not.
        Duplicate column names raise ValueError naming them."""
        if format not in FORMATS:
            raise ValueError(f"format {format!r}: expected one of {', '.join(FORMATS)}")
        _check_resource_name(name)
        declared = {k: v for k, v in (self.resource(name) or {}).items()
                    if k not in ("bytes", "hash", "rows")}  # stale from an earlier run
        in_place = self._in_output(data) if path is None else None
        rel = _relative_path(in_place or path or _declared_path(declared, format)
                             or f"data/{name}.{format}")
        target = self.output_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        rows, fields = _write_data(data, target, format, self.output_dir)
        entry = {**declared, "name": name, "path": rel, "format": FORMATS[format][0],
                 "mediatype": FORMATS[format][1]}
        if format != "parquet":
            entry["encoding"] = "utf-8"
        if format == "json" and rows is not None:  # an array of records: a table
            entry["type"] = "table"
        for key, value in (("title", title), ("description", description)):
            if value is not None:
                entry[key] = value
        entry.update(_file_stats(target))
        if format in UNCOUNTED_BYTES:
            del entry["bytes"]
        if rows is not None:
            entry["rows"] = rows
        if fields is not None:
            entry["schema"] = {"fields": fields}
        self._replace("resources", entry)
        return entry

    def _in_output(self, data: Any) -> str | None:
        """The relative path of a file already in the output folder (recorded where it is)."""
        if not isinstance(data, (str, Path)):
            return None
        source = Path(data) if Path(data).is_absolute() else self.output_dir / data
        try:
            return source.resolve().relative_to(self.output_dir.resolve()).as_posix()
        except (ValueError, OSError):
            return None

    def add_view(self, name: str, resource: str | Sequence[str], spec_type: str = "table",
                 spec: Any = None, *, title: str | None = None) -> dict[str, Any]:
        """A Data Package view: how a catalog should show one or more resources."""
        if spec_type not in SPEC_TYPES:
            raise ValueError(f"spec_type {spec_type!r}: expected one of {', '.join(SPEC_TYPES)}")
        names = [resource] if isinstance(resource, str) else list(resource)
        missing = [n for n in names if self.resource(n) is None]
        if missing:
            raise ValueError(f"view {name!r} refers to unknown resource(s) {missing}; "
                             "add them with add_resource() first")
        view: dict[str, Any] = {"name": name, "resources": names, "specType": spec_type}
        if title is not None:
            view["title"] = title
        view["spec"] = _jsonable(spec) if spec is not None else {}
        self._replace("views", view)
        return view

    def add_notebook(self, path: str, title: str | None = None) -> dict[str, Any]:
        """Show a notebook (its rendered HTML, written next to it by dvbuild) as a view."""
        rel = _relative_path(path)
        stem = PurePosixPath(rel).stem
        spec = {"path": rel, "html": str(PurePosixPath(rel).with_suffix(".html"))}
        view: dict[str, Any] = {"name": f"notebook-{stem}".lower(), "specType": "notebook",
                                "resources": [], "spec": spec}
        if title is not None:
            view["title"] = title
        self._replace("views", view)
        return view

    def write(self) -> Path:
        """Validate the descriptor, then write it to OUTPUT/datapackage.json."""
        from dvbuild.validate.packages import descriptor_problems

        target = self.output_dir / DESCRIPTOR
        source = descriptor_name(self.folder) if self.output_dir == self.folder else None
        if source not in (None, DESCRIPTOR):  # run by hand in a datapackage.yaml folder
            raise ConfigError(Problem(str(target), f"the package's descriptor is {source}; "
                                      "a datapackage.json beside it would make two"),
                              hint=f"set {OUTPUT_ENV} to an output folder (dvbuild test does)")
        problems = descriptor_problems(self.descriptor, str(target), self.output_dir,
                                       notebook_folder=self.folder)
        if problems:
            raise ConfigError(problems, hint="fix the descriptor or the add_* calls")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.descriptor, indent=2, ensure_ascii=False) + "\n"
        target.write_text(text, encoding="utf-8")
        return target

    def _replace(self, key: str, entry: dict[str, Any]) -> None:
        items = self.descriptor.setdefault(key, [])
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("name") == entry["name"]:
                items[i] = entry
                return
        items.append(entry)


def _check_resource_name(name: str) -> None:
    from dvbuild.validate.packages import RESOURCE_NAME_RE

    if not isinstance(name, str) or not RESOURCE_NAME_RE.match(name):
        raise ValueError(f"resource name {name!r}: expected lowercase letters, digits, "
                         "'-', '_', '.'")


def _declared_path(declared: Mapping[str, Any], format: str) -> str | None:
    path = declared.get("path")
    if isinstance(path, str) and PurePosixPath(path).suffix == f".{format}":
        return path
    return None


def _relative_path(path: str) -> str:
    pure = PurePosixPath(str(path).replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"path {path!r}: expected a relative path inside the package folder")
    return str(pure)


def _file_stats(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "hash": f"sha256:{digest.hexdigest()}"}


def _write_data(data: Any, target: Path, format: str,
                output_dir: Path) -> tuple[int | None, list[dict[str, str]] | None]:
    """Write the data; returns (rows, schema fields) when they are known."""
    if isinstance(data, (str, Path)):
        return _existing_file(Path(data), target, output_dir)
    if isinstance(data, list):
        import_pandas_or_none = _pandas_or_none()
        if import_pandas_or_none is None and format != "json":
            raise MissingDependency("pandas", "data")
        if import_pandas_or_none is None:
            target.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
            return len(data), None
        data = import_pandas_or_none.DataFrame.from_records(data)
    return _write_frame(data, target, format)


def _existing_file(source: Path, target: Path,
                   output_dir: Path) -> tuple[int | None, list[dict[str, str]] | None]:
    source = source if source.is_absolute() else output_dir / source
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    if source.resolve() != target.resolve():
        import shutil

        shutil.copyfile(source, target)
    from dvbuild.validate.data import count_rows

    return count_rows(target, target.suffix.lstrip(".")), None


def _pandas_or_none() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _write_frame(df: Any, target: Path,
                 format: str) -> tuple[int | None, list[dict[str, str]] | None]:
    pandas = _pandas_or_none()
    if pandas is None or not isinstance(df, pandas.DataFrame):
        raise TypeError(f"add_resource: expected a pandas DataFrame, a list of records or a "
                        f"file path, got {type(df).__name__}")
    df = with_index_columns(df)
    if format == "csv":
        _utc_strings(df).to_csv(target, index=False, date_format="%Y-%m-%dT%H:%M:%S",
                                lineterminator="\n")
    elif format == "json":
        _iso_dates(df).to_json(target, orient="records", date_format="iso", force_ascii=False)
    else:
        try:
            df.to_parquet(target, index=False)
        except ImportError:
            raise MissingDependency("pyarrow", "data") from None
    return len(df), table_schema(df)


def with_index_columns(df: Any) -> Any:
    """The frame with a meaningful index kept as columns (pivot and groupby keys): a named
    index or a MultiIndex becomes its level columns, an unnamed index of labels (text,
    dates) the column `index`. Row numbers are dropped: a RangeIndex, and an unnamed
    integer index (what filtering or sorting leaves behind). Duplicate column names are
    refused: no file format keeps them apart."""
    from pandas.api import types

    index = df.index
    numbers = index.nlevels == 1 and index.name is None and types.is_integer_dtype(index.dtype)
    if not numbers:
        taken = [str(n) for n in index.names if n is not None and n in df.columns]
        if taken:
            raise ValueError(f"add_resource: the index level(s) {taken} are also column "
                             "names; drop or rename one of them")
        df = df.reset_index()
    duplicated = list(dict.fromkeys(str(c) for c in df.columns[df.columns.duplicated()]))
    if duplicated:
        raise ValueError(f"add_resource: duplicate column name(s) {duplicated}; rename them "
                         "(e.g. df.columns = [...]) so each column has its own name")
    return df


def _utc_strings(df: Any) -> Any:
    """Timezone-aware columns as UTC ISO strings ('...Z'): CSV's one date format would
    otherwise drop their offset."""
    from pandas.api import types

    aware = [c for c in df.columns
             if types.is_datetime64_any_dtype(df[c].dtype) and getattr(df[c].dt, "tz", None)]
    if not aware:
        return df
    df = df.copy()
    for col in aware:
        df[col] = df[col].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return df


def _iso_dates(df: Any) -> Any:
    """Python dates as `YYYY-MM-DD` text: to_json would write them as datetimes, which
    their `date` field does not accept."""
    dates = [c for c in df.columns if _field_type(df[c]) == "date"]
    if not dates:
        return df
    df = df.copy()
    for col in dates:
        df[col] = df[col].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    return df


def table_schema(df: Any) -> list[dict[str, str]]:
    """Table Schema fields from a DataFrame's dtypes."""
    return [{"name": str(col), "type": _field_type(df[col])} for col in df.columns]


def _field_type(series: Any) -> str:
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_integer_dtype(dtype):
        return "integer"
    if types.is_float_dtype(dtype):
        return "number"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_object_dtype(dtype):
        return _object_type(series)
    return "string"


def _object_type(series: Any) -> str:
    import datetime as dt

    values = series.dropna()
    if len(values) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime)
                           for v in values):
        return "date"
    if len(values) and all(isinstance(v, (dict, list)) for v in values):
        return "object" if all(isinstance(v, dict) for v in values) else "array"
    return "string"


def _jsonable(spec: Any) -> Any:
    """Plotly figures and Altair charts carry their own JSON; use it."""
    for method in ("to_plotly_json", "to_dict"):
        if hasattr(spec, method) and not isinstance(spec, dict):
            return json.loads(json.dumps(getattr(spec, method)(), default=str))
    return spec
