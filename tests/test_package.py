from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dvbuild.errors import ConfigError, UsageError
from dvbuild.package import (
    Package,
    discover,
    load_package,
    name_problem,
    package_dirs,
    read_descriptor,
    select,
    version_problem,
)
from tests.conftest import Repo


def test_discover_example(example_repo: Repo) -> None:
    packages = discover(example_repo.path)
    assert [(p.name, p.path) for p in packages] == [
        ("arbeidsledighet", "packages/arbeidsledighet"), ("befolkning", "packages/befolkning"),
        ("sykefravaer", "packages/sykefravaer")]
    arbeid, befolkning, syk = packages
    assert (arbeid.schedule, arbeid.timezone, arbeid.timeout, arbeid.test_timeout) == \
        ("15 6 * * 1-5", "Europe/Oslo", 900.0, 120.0)
    assert arbeid.test_parameters == {"maaneder": 3, "utvalg": 60}
    assert arbeid.notebooks == ["ledighet.ipynb"]
    assert arbeid.version == "1.2.0"
    assert befolkning.schedule is None
    assert befolkning.version == "0.1.0"
    assert syk.notebooks == ["01_klargjor.ipynb", "02_trend.ipynb"]
    assert syk.depends_on == ("shared/lib",)
    assert syk.descriptor_file == "packages/sykefravaer/datapackage.json"


def test_defaults(tmp_path: Path) -> None:
    (tmp_path / "b.ipynb").write_text("{}")
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.ipynb").write_text("{}")
    p = Package("x", ".", tmp_path, {"name": "x"})
    assert (p.title, p.description, p.timezone, p.timeout, p.test_timeout) == \
        ("x", "", "Europe/Oslo", 3600.0, 600.0)
    assert (p.parameters, p.secrets, p.job, p.resources, p.depends_on) == ({}, {}, {}, [], ())
    assert p.notebooks == ["a.ipynb", "b.ipynb"]
    assert p.descriptor_file == "datapackage.json"


def test_properties_survive_invalid_values(tmp_path: Path) -> None:
    """validate reports these; loading must not crash the other steps."""
    p = Package("x", "x", tmp_path, {
        "name": "x", "timeout": "soon", "test_timeout": -1, "parameters": [1],
        "test_parameters": "x", "depends_on": "shared", "secrets": 3, "job": [],
        "resources": {"a": 1}, "notebooks": "main.ipynb", "timezone": 5})
    assert (p.timeout, p.test_timeout) == (3600.0, 600.0)
    assert (p.parameters, p.test_parameters, p.depends_on) == ({}, {}, ())
    assert (p.secrets, p.job, p.resources, p.timezone) == ({}, {}, [], "Europe/Oslo")


def test_test_parameters_overlay(tmp_path: Path) -> None:
    p = Package("x", "x", tmp_path, {"parameters": {"a": 1, "b": 2}, "test_parameters": {"b": 3}})
    assert p.test_parameters == {"a": 1, "b": 3}


def test_load_package_name_check(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p/datapackage.json").write_text(json.dumps({"name": "Nope"}))
    with pytest.raises(ConfigError) as info:
        load_package(tmp_path / "p", tmp_path)
    assert str(info.value.problems[0]).startswith("p/datapackage.json /name: name is 'Nope'")


def test_read_descriptor_errors(tmp_path: Path) -> None:
    path = tmp_path / "datapackage.json"
    path.write_text('{\n  "name": "x",\n  oops\n}')
    with pytest.raises(ConfigError) as info:
        read_descriptor(path, "d.json")
    assert str(info.value) == ("d.json:3:3: malformed JSON: Expecting property name enclosed in "
                               "double quotes, found 'oops' (expected a JSON object)")
    path.write_bytes(b"\xef\xbb\xbf" + b'{"name": "bom"}')
    assert read_descriptor(path, "d.json") == {"name": "bom"}


def test_package_dirs() -> None:
    files = ["a/datapackage.json", "b/c/datapackage.json", "b/c/main.ipynb", "README.md"]
    assert package_dirs(files) == ["a", "b/c"]


def test_nested_packages_are_an_error() -> None:
    with pytest.raises(ConfigError, match="package nested inside package a"):
        package_dirs(["a/datapackage.json", "a/b/datapackage.json"])


def test_duplicate_names(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    repo.write_package("a", name="same")
    repo.write_package("b", name="same")
    with pytest.raises(ConfigError, match="name 'same' is also used by a/datapackage.json"):
        discover(repo.path)


def test_select(example_repo: Repo) -> None:
    packages = discover(example_repo.path)
    root = example_repo.path
    assert select(packages, [], root) == packages
    chosen = select(packages, [root / "packages/befolkning"], root)
    assert [p.name for p in chosen] == ["befolkning"]
    with pytest.raises(UsageError, match="not a package folder"):
        select(packages, [root / "shared"], root)


VERSIONS = [
    ("1.2.3", True), ("1.0.0-rc.1", True), ("1.2", True), ("2026", True), ("2023-03-30", True),
    ("1.0.0+build.5", True), ("0.1.0", True), ("1_0", True), ("9" * 64, True),
    ("9" * 65, False), ("v1", False), ("", False), ("1.2\n", False), ("1.2 ", False),
    ("1..2", False), ("1/2", False), ("1 2", False), (".1", False), ("-1", False),
    ("1.0 beta", False), (1.2, False), (None, False),
]


@pytest.mark.parametrize(("version", "ok"), VERSIONS)
def test_version_rule(version: object, ok: bool) -> None:
    assert (version_problem(version) is None) is ok


@pytest.mark.parametrize(("name", "ok"), [
    ("a", True), ("arbeids-ledighet_2.0", True), ("0x", True),
    ("A", False), ("a b", False), ("a\n", False), ("-a", False), (".a", False), ("", False),
    ("æ", False), (None, False), (3, False),
])
def test_name_rule(name: object, ok: bool) -> None:
    assert (name_problem(name) is None) is ok
