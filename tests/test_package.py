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
    read_by,
    read_cycles,
    read_descriptor,
    read_layers,
    select,
    version_problem,
)
from tests.conftest import Repo


def test_discover_example(example_repo: Repo) -> None:
    packages = discover(example_repo.path)
    assert [(p.name, p.path) for p in packages] == [
        ("arbeidsledighet", "packages/arbeidsledighet"), ("befolkning", "packages/befolkning"),
        ("ledighet-per-innbygger", "packages/ledighet-per-innbygger"),
        ("sykefravaer", "packages/sykefravaer")]
    arbeid, befolkning, per_innbygger, syk = packages
    assert per_innbygger.get("reads") == ["arbeidsledighet", "befolkning"]
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


def pkg(path: str, *reads: object, name: str | None = None) -> Package:
    """A package at `path` (named after its last folder) with the given `reads` entries."""
    name = name or path.rpartition("/")[2]
    return Package(name, path, Path("/nowhere") / path, {"name": name, "reads": list(reads)})


def test_reads_in_order_once_and_external() -> None:
    p = pkg("x", "b", {"name": "ext", "external": True}, "a", "b", {"name": "a"}, "Bad", 3,
            {"name": "c", "external": "yes"}, {"external": True}, {"name": "d", "external": False})
    assert p.reads == ["b", "ext", "a", "d"]
    assert p.external_reads == ["ext"]


@pytest.mark.parametrize("reads", [None, "a", {"name": "a"}, 3])
def test_reads_of_another_type_are_none(reads: object) -> None:
    p = Package("x", "x", Path("/x"), {"name": "x", "reads": reads})
    assert (p.reads, p.external_reads) == ([], [])


def layer_names(packages: list[Package]) -> list[list[str]]:
    return [[p.name for p in layer] for layer in read_layers(packages)]


def test_read_layers() -> None:
    packages = [pkg("p/d", "b", "c"), pkg("p/c", "a"), pkg("p/b"), pkg("p/a"),
                pkg("p/e", "d", "a"), pkg("p/f", "zzz", {"name": "g", "external": True})]
    assert layer_names(packages) == [["a", "b", "f"], ["c"], ["d"], ["e"]]


def test_read_layers_only_count_selected_packages() -> None:
    """A read of a package that is not selected (nothing changed there) does not wait."""
    assert layer_names([pkg("p/d", "c"), pkg("p/c", "a"), pkg("p/b", "a")]) == \
        [["b", "c"], ["d"]]


def test_read_layers_order_by_path_not_name() -> None:
    packages = [pkg("z", name="a"), pkg("y", name="b"), pkg("x", "a", "b", name="c")]
    assert [[p.path for p in layer] for layer in read_layers(packages)] == [["y", "z"], ["x"]]


def test_read_layers_put_a_cycle_last() -> None:
    packages = [pkg("a", "b"), pkg("b", "a"), pkg("c", "a"), pkg("d"), pkg("e", "e")]
    assert layer_names(packages) == [["d", "e"], ["a", "b", "c"]]


def test_read_layers_of_nothing() -> None:
    assert read_layers([]) == []


def test_read_cycles() -> None:
    graph = {"a": ["b"], "b": ["c", "a"], "c": ["a"], "d": ["a"], "e": ["e", "zzz"], "f": []}
    assert read_cycles(graph) == {"a": ["a", "b", "a"], "b": ["b", "a", "b"],
                                  "c": ["c", "a", "b", "c"]}


def test_read_cycles_between_two_cycles() -> None:
    """x sits between two cycles, on neither: it is not reported."""
    graph = {"a": ["b"], "b": ["a", "x"], "x": ["y"], "y": ["z"], "z": ["y"]}
    assert read_cycles(graph) == {"a": ["a", "b", "a"], "b": ["b", "a", "b"],
                                  "y": ["y", "z", "y"], "z": ["z", "y", "z"]}


def test_read_cycles_none_in_a_long_chain() -> None:
    graph = {f"p{i}": [f"p{i - 1}"] if i else [] for i in range(2000)}
    assert read_cycles(graph) == {}


def test_read_by() -> None:
    packages = [pkg("p/c", "a", "b"), pkg("p/b", "a"), pkg("p/a")]
    assert read_by(packages) == {"a": ["b", "c"], "b": ["c"]}


# --- datapackage.yaml and duplicate keys (issue #13) -----------------------------------

YAML_DESCRIPTOR = "name: geo\ncreated: 2023-09-25\nresources:\n  - name: a\n    path: a.csv\n"


def test_yaml_descriptor_is_a_package(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    repo.write("geo/datapackage.yaml", YAML_DESCRIPTOR)
    repo.write("other/datapackage.yml", "name: other\nresources: []\n")
    repo.write_package("plain")
    found = {p.path: p for p in discover(repo.path)}
    assert sorted(found) == ["geo", "other", "plain"]
    assert found["geo"].descriptor == {"name": "geo", "created": "2023-09-25",
                                       "resources": [{"name": "a", "path": "a.csv"}]}
    assert found["geo"].descriptor_file == "geo/datapackage.yaml"
    assert found["other"].descriptor_file == "other/datapackage.yml"
    assert found["plain"].descriptor_file == "plain/datapackage.json"
    assert select(list(found.values()), [repo.path / "geo"], repo.path) == [found["geo"]]


def test_two_descriptors_in_one_folder_name_both(make_repo: Callable[..., Repo]) -> None:
    with pytest.raises(ConfigError) as info:
        package_dirs(["a/datapackage.json", "a/datapackage.yaml", "b/datapackage.yml"])
    assert str(info.value.problems[0]).startswith(
        "a/datapackage.yaml: a/datapackage.json and a/datapackage.yaml are both in one folder")
    repo = make_repo()
    repo.write_package("a")
    repo.write("a/datapackage.yml", "name: a\n")
    with pytest.raises(ConfigError, match="a/datapackage.json and a/datapackage.yml"):
        discover(repo.path)
    with pytest.raises(ConfigError, match="are both in one folder"):
        load_package(repo.path / "a", repo.path)


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p/datapackage.yaml").write_text("name: p\nlist: &x [1]\nagain: *x\n")
    with pytest.raises(ConfigError) as info:
        load_package(tmp_path / "p", tmp_path)
    assert str(info.value.problems[0]).startswith("p/datapackage.yaml:3:8: invalid YAML: aliases")
    (tmp_path / "p/datapackage.yaml").write_text("name: p\nname: q\n")
    with pytest.raises(ConfigError) as info:
        load_package(tmp_path / "p", tmp_path)
    assert str(info.value.problems[0]).startswith(
        "p/datapackage.yaml:2:1 /name: key 'name' is given twice")
    (tmp_path / "p/datapackage.yaml").write_text("name: p\n" + "#" * (3 * 1024 * 1024))
    with pytest.raises(ConfigError, match="expected at most 2097152 bytes"):
        load_package(tmp_path / "p", tmp_path)


def test_duplicate_json_keys_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "datapackage.json"
    path.write_text('{\n  "name": "a",\n  "resources": [],\n  "name": "b"\n}\n')
    with pytest.raises(ConfigError) as info:
        read_descriptor(path, "d.json")
    assert info.value.exit_code == 2
    assert str(info.value.problems[0]) == (
        "d.json:4:3 /name: key 'name' is given twice in the same object (first at line 2) "
        "(expected a JSON object with unique keys)")


def test_json_descriptor_makes_the_copy_publishable(tmp_path: Path) -> None:
    from dvbuild.package import json_descriptor

    (tmp_path / "datapackage.yaml").write_text(YAML_DESCRIPTOR)
    json_descriptor(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datapackage.json"]
    assert read_descriptor(tmp_path / "datapackage.json", "d")["created"] == "2023-09-25"
    json_descriptor(tmp_path)  # a JSON one is left as it is
    assert (tmp_path / "datapackage.json").is_file()


def test_a_nested_yaml_package_is_named_by_its_file() -> None:
    with pytest.raises(ConfigError) as info:
        package_dirs(["a/datapackage.json", "a/b/datapackage.yaml"])
    assert info.value.problems[0].file == "a/b/datapackage.yaml"


# -- paths and links (issue #13): one rule for validate, publish and the test copy --------

@pytest.mark.parametrize(("rel", "why"), [
    ("data/a.csv", None), ("./a.csv", None), ("data/ünï.csv", None),
    ("", "is empty"), (".", "is not a file path"), ("data/", "is not a file path"),
    ("/etc/passwd", "is absolute"), ("C:/x.csv", "is absolute"), ("../x.csv", "contains '..'"),
    ("a\\b.csv", "holds a backslash"), ("https://x.invalid/a.csv", "is a URL"),
    ("a\x00b.csv", "holds a control character ('\\x00')"),
    ("a\nb.csv", "holds a control character ('\\n')"), (5, "is 5"),
])
def test_path_problem(rel: object, why: str | None) -> None:
    from dvbuild.package import path_problem

    assert path_problem(rel) == why


def test_link_problems_finds_loops_and_links_out(tmp_path: Path) -> None:
    import os

    from dvbuild.package import link_problems

    folder = tmp_path / "p"
    (folder / "a").mkdir(parents=True)
    (folder / "c").mkdir()
    (folder / "input").mkdir()
    os.symlink(".", folder / "self")
    os.symlink("../c", folder / "a/b")
    os.symlink("../a", folder / "c/d")
    os.symlink(tmp_path, folder / "out")
    os.symlink("me", folder / "me")
    os.symlink("input", folder / "alias")  # inside, no loop: fine
    os.symlink("gone", folder / "dangling")  # inside, nothing there: fine
    found = dict(link_problems(folder))
    assert sorted(found) == ["a/b", "c/d", "me", "out", "self"]
    assert found["self"] == "is a symbolic link loop (it points to a folder it is in)"
    assert found["out"].startswith("is a symbolic link that leaves the package folder")
