"""Resource checks on files as a run leaves them (no kernel needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from dvbuild.notebooks.resources import check_resource, check_resources


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
