"""Resource checks on files as a run leaves them (no kernel needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from dvbuild.notebooks.resources import MAX_ERRORS, check_resource, check_resources


def test_csv_with_declared_schema_and_stats(tmp_path: Path) -> None:
    data = b"id,name\n1,a\n2,b\n3,c\n"
    (tmp_path / "t.csv").write_bytes(data)
    resource = {"name": "t", "path": "t.csv", "bytes": len(data),
                "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "rows": 3,
                "schema": {"fields": [{"name": "id", "type": "integer"},
                                      {"name": "name", "type": "string"}]}}
    result = check_resource(tmp_path, resource)
    assert result["valid"], result["errors"]
    assert result["rows"] == 3 and result["bytes"] == len(data)
    assert result["preview"] == {"columns": ["id", "name"], "rows": [["1", "a"], ["2", "b"], ["3", "c"]]}


def test_declared_stats_that_do_not_match(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id\n1\n")
    result = check_resource(tmp_path, {"name": "t", "path": "t.csv", "bytes": 999, "rows": 5,
                                       "hash": "md5:" + "0" * 32})
    assert not result["valid"]
    text = " ".join(result["errors"])
    assert "bytes 999" in text and "rows 5" in text and "hash" in text


def test_schema_violation_is_reported(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("n\n1\nnot-a-number\n")
    result = check_resource(tmp_path, {"name": "t", "path": "t.csv",
                                       "schema": {"fields": [{"name": "n", "type": "integer"}]}})
    assert not result["valid"] and "not-a-number" in result["errors"][0]


def test_parquet_from_metadata(tmp_path: Path) -> None:
    pd.DataFrame({"when": pd.to_datetime(["2025-01-01", "2025-02-01"]), "v": [1.5, 2.5]}).to_parquet(
        tmp_path / "p.parquet")
    result = check_resource(tmp_path, {"name": "p", "path": "p.parquet", "format": "parquet"})
    assert result["rows"] == 2
    assert result["columns"] == [{"name": "when", "type": "datetime"}, {"name": "v", "type": "number"}]
    assert result["preview"]["rows"][0][1] == 1.5
    assert result["valid"], result["errors"]


def test_tsv_and_inferred_types(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("a\tb\tc\n1\t2.5\ttrue\n2\t3\tfalse\n")
    result = check_resource(tmp_path, {"name": "t", "path": "t.tsv", "format": "tsv"})
    assert [c["type"] for c in result["columns"]] == ["integer", "number", "boolean"]


def test_missing_escaping_and_inline(tmp_path: Path) -> None:
    results = check_resources(tmp_path, {"resources": [
        {"name": "gone", "path": "gone.csv"},
        {"name": "out", "path": "../outside.csv"},
        {"name": "inline", "data": [{"a": 1}]},
    ]})
    gone, out, inline = results
    assert gone["exists"] is False and "did not produce" in gone["errors"][0]
    assert out["exists"] is False and "leaves the package folder" in out["errors"][0]
    assert inline["valid"] is True and inline["path"] is None


def test_json_is_checked_against_its_schema(tmp_path: Path) -> None:
    # frictionless types JSON `json`, not `table`, and would never read its rows
    (tmp_path / "t.json").write_text('[{"n": 1, "d": "2025-01-01"}, {"n": "x", "d": "soon"}]')
    schema = {"fields": [{"name": "n", "type": "integer"}, {"name": "d", "type": "date"}]}
    result = check_resource(tmp_path, {"name": "t", "path": "t.json", "format": "json",
                                       "schema": schema})
    assert not result["valid"]
    assert "field 'n'" in result["errors"][0] and "'x'" in result["errors"][0]
    assert any("field 'd'" in e and "soon" in e for e in result["errors"])
    # a JSON file without a schema may be anything (GeoJSON, a config): not read as a table
    (tmp_path / "geo.json").write_text('{"type": "FeatureCollection", "features": []}')
    assert check_resource(tmp_path, {"name": "geo", "path": "geo.json"})["valid"]


def test_data_errors_keep_frictionless_note_and_say_how_many_more(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i},extra\n" for i in range(820))
    (tmp_path / "t.csv").write_text("a,b\n" + rows)
    schema = {"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]}
    result = check_resource(tmp_path, {"name": "t", "path": "t.csv", "schema": schema})
    errors = result["errors"]
    assert result["error_count"] == 820 and result["more_errors"] is False
    # an extra cell has no note: frictionless's own message says what is wrong
    assert "extra-cell" in errors[0] and "has an extra value" in errors[0]
    assert len(errors) == MAX_ERRORS + 1
    assert errors[-1] == f"… and {820 - MAX_ERRORS} more errors"


def test_validate_data_says_how_many_more_too(tmp_path: Path) -> None:
    from dvbuild.validate.data import MAX_ERRORS as LIMIT
    from dvbuild.validate.data import check

    (tmp_path / "t.csv").write_text("a\n" + "x\n" * 50)
    descriptor = {"resources": [{"name": "t", "path": "t.csv",
                                 "schema": {"fields": [{"name": "a", "type": "integer"}]}}]}
    problems = check(descriptor, "datapackage.json", tmp_path)
    assert len(problems) == LIMIT + 1
    assert 'type is "integer/default"' in problems[0].message
    assert problems[-1].message == f"t.csv: … and {50 - LIMIT} more errors"
