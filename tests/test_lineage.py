"""Lineage trees from the catalog's version documents (the file catalog, a real implementation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dvbuild.catalogs.file import FileCatalog
from dvbuild.catalogs.lineage import lineage, tree_text
from dvbuild.errors import UsageError


def publish(catalog: FileCatalog, name: str, version: str, published: str,
            inputs: list[dict[str, Any]] | None = None) -> None:
    doc = {"name": name, "version": version, "published": published, "inputs": inputs or []}
    package = {**doc, "published_ms": int(published[:4])}
    catalog.publish(package, doc, {"package": name, "version": version, "started": published})


def read(name: str, version: str, resource: str | None = "data") -> dict[str, Any]:
    return {"name": name, "version": version, "resource": resource, "sha256": "0" * 64}


@pytest.fixture
def catalog(tmp_path: Path) -> FileCatalog:
    c = FileCatalog(tmp_path / "catalog")
    publish(c, "befolkning", "1.0.0-aaaaaaaaaaaa", "2001")
    publish(c, "befolkning", "1.1.0-bbbbbbbbbbbb", "2002")
    publish(c, "ledighet", "0.1.0-cccccccccccc", "2003")
    publish(c, "per-capita", "0.1.0-dddddddddddd", "2004",
            [read("befolkning", "1.0.0-aaaaaaaaaaaa"), read("ledighet", "0.1.0-cccccccccccc"),
             read("ledighet", "0.1.0-cccccccccccc", None)])
    publish(c, "per-capita", "0.1.0-eeeeeeeeeeee", "2005",
            [read("befolkning", "1.1.0-bbbbbbbbbbbb"), read("ledighet", "0.1.0-cccccccccccc")])
    publish(c, "report", "2.0.0-ffffffffffff", "2006", [read("per-capita", "0.1.0-dddddddddddd")])
    return c


def test_upstream_of_an_exact_version_follows_what_it_read(catalog: FileCatalog) -> None:
    root = lineage(catalog, "report", "2.0.0-ffffffffffff")
    [per_capita] = root["upstream"]
    assert (per_capita["name"], per_capita["version"]) == ("per-capita", "0.1.0-dddddddddddd")
    assert [(n["name"], n["version"], n["resources"]) for n in per_capita["upstream"]] == [
        ("befolkning", "1.0.0-aaaaaaaaaaaa", ["data"]),
        ("ledighet", "0.1.0-cccccccccccc", ["data", "datapackage.json"]),
    ]
    assert root["downstream"] == []


def test_downstream_names_every_version_that_read_this_one(catalog: FileCatalog) -> None:
    root = lineage(catalog, "ledighet")
    readers = [(n["name"], n["version"]) for n in root["downstream"]]
    assert readers == [("per-capita", "0.1.0-dddddddddddd"), ("per-capita", "0.1.0-eeeeeeeeeeee")]
    assert [n["name"] for n in root["downstream"][0]["downstream"]] == ["report"]
    old = lineage(catalog, "befolkning", "1.0.0-aaaaaaaaaaaa")
    assert [n["version"] for n in old["downstream"]] == ["0.1.0-dddddddddddd"]


def test_default_version_is_the_newest(catalog: FileCatalog) -> None:
    assert lineage(catalog, "befolkning")["version"] == "1.1.0-bbbbbbbbbbbb"


def test_tree_text_draws_both_directions(catalog: FileCatalog) -> None:
    text = tree_text(lineage(catalog, "per-capita", "0.1.0-dddddddddddd"))
    assert text.splitlines()[0].startswith("per-capita 0.1.0-dddddddddddd")
    assert "├─ befolkning 1.0.0-aaaaaaaaaaaa [data]" in text
    assert "└─ ledighet 0.1.0-cccccccccccc [data, datapackage.json]" in text
    assert "downstream (what read it):\n  └─ report 2.0.0-ffffffffffff" in text


def test_missing_upstream_and_cycles_are_marked_not_followed(tmp_path: Path) -> None:
    c = FileCatalog(tmp_path / "catalog")
    publish(c, "a", "1.0.0-aaaaaaaaaaaa", "2001", [read("b", "1.0.0-bbbbbbbbbbbb"),
                                                  read("gone", "9.9.9-999999999999")])
    publish(c, "b", "1.0.0-bbbbbbbbbbbb", "2002", [read("a", "1.0.0-aaaaaaaaaaaa")])
    root = lineage(c, "a")
    b, gone = root["upstream"]
    assert gone["missing"] is True
    assert b["upstream"][0]["cycle"] is True
    assert "(not in the catalog)" in tree_text(root)


def test_unknown_package_or_version_is_a_usage_error(catalog: FileCatalog) -> None:
    with pytest.raises(UsageError, match="nope: no published version"):
        lineage(catalog, "nope")
    with pytest.raises(UsageError, match="befolkning@9.9.9"):
        lineage(catalog, "befolkning", "9.9.9")
