from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvbuild.errors import ConfigError, Problem
from dvbuild.validate import spec
from dvbuild.validate.packages import descriptor_problems
from dvbuild.validate.positions import positions
from tests.conftest import Repo, Result

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    return make_repo(commit=False)


def package(repo: Repo, rel: str = "packages/p", text: str | None = None,
            **fields: Any) -> Path:
    """A package folder with one notebook and the given descriptor fields (or raw text)."""
    repo.write(f"{rel}/main.ipynb", NB)
    if text is not None:
        return repo.write(f"{rel}/datapackage.json", text)
    return repo.write_package(rel, **fields)


def problems(cli: Callable[..., Result], repo: Repo, *args: str) -> list[dict[str, Any]]:
    result = cli("validate", "--json", "--repo", repo.path, *args)
    doc = result.json()
    assert result.code == (2 if doc["problems"] else 0), result.err
    assert doc["ok"] is (not doc["problems"])
    return list(doc["problems"])


def only(cli: Callable[..., Result], repo: Repo) -> dict[str, Any]:
    found = problems(cli, repo)
    assert len(found) == 1, found
    return found[0]


def test_example_monorepo_is_valid(cli: Callable[..., Result], example_repo: Repo) -> None:
    result = cli("validate", "--repo", example_repo.path)
    assert (result.code, result.out) == (0, "ok: 4 packages valid\n")


def test_valid_package_json_shape(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, schedule="15 6 * * 1-5", timezone="Europe/Oslo", timeout=60,
            job={"team": "t"})
    result = cli("validate", "--json", "--repo", repo.path)
    assert result.code == 0
    assert result.json() == {"ok": True, "packages": 1, "problems": [], "warnings": []}


def test_name_not_a_slug_with_line(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, text='{\n  "resources": [],\n  "name": "Arbeids Ledighet"\n}\n')
    assert only(cli, repo) == {
        "file": "packages/p/datapackage.json", "pointer": "/name", "line": 3, "column": 3,
        "message": "name is 'Arbeids Ledighet'",
        "expected": "a lowercase slug: a-z, 0-9, '-', '_', '.' (starting with a letter or digit)",
    }


def test_human_output_names_file_line_pointer(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, text='{\n  "name": "p",\n  "resources": [],\n  "timeout": 0\n}\n')
    result = cli("validate", "--repo", repo.path)
    assert result.code == 2
    assert result.out.splitlines() == [
        "packages/p/datapackage.json:4:3 /timeout: timeout is 0 "
        "(expected a positive number of seconds)",
        "1 problem (1 package checked)",
    ]


@pytest.mark.parametrize(("fields", "pointer", "message", "expected"), [
    ({"schedule": "61 * * * *"}, "/schedule",
     "minute field '61' is out of range or never matches in '61 * * * *'", "minute 0-59, hour"),
    ({"schedule": "* * *"}, "/schedule", "3 fields in '* * *'", "5 fields"),
    ({"schedule": "0 0 L * *"}, "/schedule", "day-of-month field 'L' is not valid cron", "numbers"),
    ({"timezone": "Europe/Olso"}, "/timezone", "unknown timezone 'Europe/Olso'", "an IANA zone"),
    ({"timeout": "3600"}, "/timeout", "timeout is '3600'", "a positive number of seconds"),
    ({"timeout": -5}, "/timeout", "timeout is -5", "a positive number of seconds"),
    ({"test_timeout": True}, "/test_timeout", "test_timeout is True", "a positive number"),
    ({"notebooks": ["missing.ipynb"]}, "/notebooks/0", "notebook 'missing.ipynb' does not exist",
     "an existing notebook file"),
    ({"notebooks": ["../other/main.ipynb"]}, "/notebooks/0",
     "notebook path '../other/main.ipynb' contains '..'", "a relative path inside"),
    ({"notebooks": []}, "/notebooks", "notebooks is []", "a non-empty list of notebook paths"),
    ({"notebooks": ["README.md"]}, "/notebooks/0", "notebook 'README.md' is not an .ipynb file",
     "a path ending in .ipynb"),
    ({"resources": [{"name": "a", "path": "/etc/passwd"}]}, "/resources/0/path",
     "resource path '/etc/passwd' is absolute", "a relative path inside the package folder"),
    ({"resources": [{"name": "a", "path": "data/../../x.csv"}]}, "/resources/0/path",
     "resource path 'data/../../x.csv' contains '..'", "a relative path inside"),
    ({"resources": [{"name": "a", "path": "https://example.invalid/a.csv"}]},
     "/resources/0/path", "resource path 'https://example.invalid/a.csv' is a URL",
     "a relative path inside"),
    ({"secrets": {"TOKEN": "aws:secretsmanager/x"}}, "/secrets/TOKEN",
     "unknown secret reference scheme 'aws'", "'env:<NAME>' or 'vault:<mount>/<path>#<key>'"),
    ({"secrets": {"TOKEN": "vault:kv/team/db"}}, "/secrets/TOKEN",
     "vault reference has no #<key>",
     "'env:<NAME>'"),
    ({"secrets": {"1BAD": "env:X"}}, "/secrets/1BAD",
     "secret name '1BAD' is not an environment variable name", "letters, digits and '_'"),
    ({"job": {"teem": "x"}}, "/job/teem", "unknown key 'teem'; did you mean 'team'?", "'team'"),
    ({"job": {"concurrency_policy": "Sometimes"}}, "/job/concurrency_policy",
     "concurrency_policy is 'Sometimes'", "one of Allow, Forbid, Replace"),
    ({"parameters": {"sample-size": 3}}, "/parameters/sample-size",
     "parameter name 'sample-size' is not a Python name", "a valid Python variable name"),
    ({"parameters": [1]}, "/parameters", "parameters is a list", "an object of name: value"),
    ({"depends_on": ["../outside"]}, "/depends_on/0",
     "depends_on path '../outside' is not inside the repository", "a path relative"),
    ({"depends_on": ["shared/nope"]}, "/depends_on/0", "depends_on path 'shared/nope' does not "
     "exist", "an existing file or folder"),
    ({"version": "1.0 beta"}, "/version", "version is '1.0 beta'", "a version such as '1.2.0'"),
    ({"resources": [{"name": "Big Table", "path": "a.csv"}]}, "/resources/0/name",
     "resource name is 'Big Table'", "lowercase a-z"),
    ({"resources": [{"name": "a"}]}, "/resources/0", "resource has no path", 'a "path"'),
    ({"resources": [{"name": "a", "path": "a.csv", "schema": {"fields": [
        {"name": "x", "type": "integr"}]}}]}, "/resources/0/schema/fields/0/type",
     "field type is 'integr'", "one of any, array, boolean"),
    ({"resources": "a.csv"}, "/resources", "resources is a string", "a list of resources"),
])
def test_each_bad_field(cli: Callable[..., Result], repo: Repo, fields: dict[str, Any],
                        pointer: str, message: str, expected: str) -> None:
    team = {"job": {"team": "t"}} if "schedule" in fields else {}  # a Naisjob needs one
    package(repo, **team, **fields)
    found = only(cli, repo)
    assert (found["pointer"], found["message"]) == (pointer, message)
    assert found["expected"].startswith(expected)
    assert found["file"] == "packages/p/datapackage.json"
    assert found["line"] is not None


def test_all_problems_in_one_pass(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "a", name="Bad", schedule="nope", timezone="X/Y", timeout=0,
            secrets={"A": "ftp:x"}, resources=[{"name": "r", "path": "/abs"}])
    package(repo, "b", text='{"name": "b", "resources": [')
    found = problems(cli, repo)
    assert [(p["file"], p["pointer"]) for p in found] == [
        ("a/datapackage.json", "/name"), ("a/datapackage.json", "/resources/0/path"),
        ("a/datapackage.json", "/schedule"), ("a/datapackage.json", "/timezone"),
        ("a/datapackage.json", "/timeout"), ("a/datapackage.json", "/secrets/A"),
        ("b/datapackage.json", ""),
    ]


def test_missing_notebooks_when_none_listed(cli: Callable[..., Result], repo: Repo) -> None:
    repo.write_package("p")
    found = only(cli, repo)
    assert found["pointer"] == "/notebooks"
    assert found["message"] == "no notebooks: no *.ipynb in p/ and no notebooks listed"


def test_symlink_leaving_the_folder(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, resources=[{"name": "a", "path": "data/a.csv"}])
    repo.write("secret.csv", "a\n1\n")
    (repo.path / "packages/p/data").mkdir()
    os.symlink(repo.path / "secret.csv", repo.path / "packages/p/data/a.csv")
    found = problems(cli, repo)
    assert [(p["file"], p["pointer"], p["message"]) for p in found] == [
        ("packages/p/datapackage.json", "/resources/0/path",
         "resource path 'data/a.csv' leaves the folder through a symbolic link"),
        ("packages/p/data/a.csv", "", "is a symbolic link that leaves the package folder "
         f"(to {(repo.path / 'secret.csv').resolve()})"),
    ]


@pytest.mark.parametrize("link", ["README.md", "LICENSE.md", "METADATA.md", "main.html",
                                  "docs"])
def test_a_file_or_folder_linked_from_outside_is_refused_by_validate_and_test(
        cli: Callable[..., Result], repo: Repo, tmp_path: Path, link: str) -> None:
    package(repo)
    outside = tmp_path / "outside"
    (outside / "docs").mkdir(parents=True)
    (outside / "hostname").write_text("a machine's name\n")
    target = outside / ("docs" if link == "docs" else "hostname")
    os.symlink(target, repo.path / "packages/p" / link)
    found = problems(cli, repo)
    assert [(p["file"], p["message"]) for p in found] == [
        (f"packages/p/{link}",
         f"is a symbolic link that leaves the package folder (to {target.resolve()})")]
    out = tmp_path / "out"
    res = cli("test", "--repo", repo.path, "--out", out, repo.path / "packages/p")
    assert res.code == 2 and f"packages/p/{link}" in res.out + res.err
    assert not (out / "p" / link).exists()


def test_a_depends_on_file_linked_from_outside_the_repository(
        cli: Callable[..., Result], repo: Repo, tmp_path: Path) -> None:
    package(repo, depends_on=["shared"])
    repo.write("shared/ok.py", "X = 1\n")
    (tmp_path / "elsewhere.py").write_text("Y = 2\n")
    os.symlink(tmp_path / "elsewhere.py", repo.path / "shared/link.py")
    os.symlink("ok.py", repo.path / "shared/alias.py")  # inside the repository: fine
    found = problems(cli, repo)
    assert [(p["file"], p["message"]) for p in found] == [
        ("shared/link.py", "leaves the repository through a symbolic link")]


def test_symlink_inside_the_folder_is_fine(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, resources=[{"name": "a", "path": "data/a.csv"}])
    repo.write("packages/p/real.csv", "a\n1\n")
    (repo.path / "packages/p/data").mkdir()
    os.symlink("../real.csv", repo.path / "packages/p/data/a.csv")
    assert problems(cli, repo) == []


@pytest.mark.parametrize(("raw", "message", "line"), [
    (b'{"name": "p",\n "resources": [\n',
     "malformed JSON: Expecting value, found the end of the file", 3),
    (b'{"name": "p", "resources": []',
     "malformed JSON: Expecting ',' delimiter, found the end of the file", 1),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text (byte 0)", None),
    (b"", "file is empty", 1),
    (b"[1, 2]", "top level is list", 1),
    (b'{"name": "p", "resources": [], "timeout": NaN}', "malformed JSON: NaN is not JSON", None),
    (b'{"name": "p"}\x00', "malformed JSON: Extra data, found '\\x00'", 1),
])
def test_broken_files(cli: Callable[..., Result], repo: Repo, raw: bytes, message: str,
                      line: int | None) -> None:
    package(repo, text="")
    (repo.path / "packages/p/datapackage.json").write_bytes(raw)
    found = only(cli, repo)
    assert (found["message"], found["line"]) == (message, line)


def test_deep_nesting(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, text='{"name": "p", "resources": [], "parameters": {"x": '
                       + "[" * 10_000 + "]" * 10_000 + "}}")
    found = only(cli, repo)
    assert found["message"] == "JSON nested too deeply"


def test_deep_but_parseable_nesting(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, text='{"name": "p", "resources": [], "timeout": -1, "parameters": {"x": '
                       + "[" * 500 + "]" * 500 + "}}")
    assert only(cli, repo)["pointer"] == "/timeout"


def test_huge_descriptor(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, text="")
    with (repo.path / "packages/p/datapackage.json").open("w") as f:
        f.write('{"name": "p", "resources": [], "description": "')
        f.write("x" * (50 * 1024 * 1024))
        f.write('"}')
    found = only(cli, repo)
    assert found["message"].startswith("file is 524288")
    assert found["expected"] == "at most 10485760 bytes"


def test_nested_packages_and_duplicate_names(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "a")
    package(repo, "a/inner", name="inner")
    package(repo, "b", name="a")
    found = problems(cli, repo)
    messages = {(p["file"], p["message"]) for p in found}
    assert ("a/inner/datapackage.json", "package nested inside package a") in messages
    assert ("b/datapackage.json", "name 'a' is also used by a/datapackage.json") in messages


def test_duplicate_name_found_when_one_path_given(cli: Callable[..., Result],
                                                   repo: Repo) -> None:
    package(repo, "a", name="same")
    package(repo, "b", name="same")
    found = problems(cli, repo, str(repo.path / "b"))
    assert [(p["file"], p["message"]) for p in found] == [
        ("b/datapackage.json", "name 'same' is also used by a/datapackage.json")]


def test_paths_select_packages(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "good")
    package(repo, "bad", timeout=0)
    assert problems(cli, repo, str(repo.path / "good")) == []
    assert problems(cli, repo, str(repo.path / "bad" / "datapackage.json"))[0]["pointer"] == \
        "/timeout"
    found = problems(cli, repo, str(repo.path / "nowhere"))
    assert found[0]["message"].startswith("no datapackage.json in ")


def test_config_and_package_problems_together(cli: Callable[..., Result], repo: Repo) -> None:
    repo.write("dvbuild.yaml", "global: [dvbuild.yaml]\nignroe: ['**/*.md']\n")
    package(repo, timeout=0)
    found = problems(cli, repo)
    assert [(p["file"], p["pointer"]) for p in found] == [
        ("dvbuild.yaml", "/ignroe"), ("packages/p/datapackage.json", "/timeout")]
    assert "did you mean 'ignore'?" in found[0]["message"]
    assert found[0]["line"] == 2


def test_custom_keys_are_allowed(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, owner="team-x", x_internal={"a": 1}, created_by="kari", team="dataplattform")
    assert problems(cli, repo) == []


def test_github_annotations(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, text='{\n"name": "p", "resources": [], "timeout": 0}')
    result = cli("validate", "--repo", repo.path, env={"GITHUB_ACTIONS": "true"})
    assert "::error file=packages/p/datapackage.json,line=2::timeout is 0" in result.err


# -- --data --------------------------------------------------------------------------------

def test_data_checks_schema_and_stats(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, resources=[
        {"name": "a", "path": "a.csv", "format": "csv", "bytes": 6, "rows": 2,
         "hash": "sha256:0000", "schema": {"fields": [{"name": "n", "type": "integer"}]}},
        {"name": "b", "path": "b.csv", "format": "csv"}])
    repo.write("packages/p/a.csv", "n\n1\nx\n")
    assert problems(cli, repo) == []  # no data read without --data
    found = problems(cli, repo, "--data")
    messages = [p["message"] for p in found]
    assert any(m.startswith("hash is 'sha256:0000' but a.csv has 'sha256:") for m in messages)
    assert "data file 'b.csv' does not exist" in messages
    assert any(m.startswith("a.csv (row 3, field 'n'): type-error:") for m in messages)
    assert not any("bytes is" in m or "rows is" in m for m in messages)


# -- the pieces ----------------------------------------------------------------------------

def test_positions_on_pretty_and_minified_json() -> None:
    text = '{\n "a": {"b/c": [1, {"d": 2}]},\n "e": [\n  3\n ]\n}'
    assert positions(text, ["/a/b~1c/1/d", "/e/0", "/e/9", "/zz", ""]) == {
        "/a/b~1c/1/d": (2, 20), "/e/0": (4, 3), "/e/9": (3, 2), "/zz": (1, 1), "": (1, 1)}


@pytest.mark.parametrize(("ref", "ok"), [
    ("env:DB_PASSWORD", True), ("vault:kv/team/db#password", True), ("env:", False),
    ("env:1X", False), ("vault:kv#x", False), ("vault:kv/p", False), ("plain", False),
    ("gcp:projects/x", False),
])
def test_secret_refs(ref: str, ok: bool) -> None:
    from dvbuild import secrets

    assert (secrets.problem(ref) is None) is ok


def test_descriptor_problems_without_files(tmp_path: Path) -> None:
    (tmp_path / "a.ipynb").write_text(NB)
    assert descriptor_problems({"name": "ok", "resources": []}, "f", tmp_path) == []
    assert descriptor_problems({"name": "ok"}, "f", tmp_path) == [
        Problem("f", "resources is missing", "/resources",
                expected="a list of resources (may be empty)")]


# The fast path must agree with frictionless on everything it decides alone.
AGREEMENT = [
    {"resources": []},
    {},
    {"resources": {}},
    {"resources": ["a"]},
    {"resources": [{"path": "a.csv"}]},
    {"resources": [{"name": "T T", "path": "a.csv"}]},
    {"resources": [{"name": "t"}]},
    {"resources": [{"name": "t", "path": 5}]},
    {"resources": [{"name": "t", "path": "a.csv", "rows": "x"}]},
    {"resources": [{"name": "t", "path": "a.csv", "bytes": 1.5}]},
    {"resources": [{"name": "t", "path": "a.csv", "bytes": 3, "hash": "sha256:ab", "rows": 1,
                    "format": "csv", "mediatype": "text/csv", "encoding": "utf-8"}]},
    {"resources": [{"name": "t", "path": "a.csv", "hash": 5}]},
    {"resources": [{"name": "t", "path": "a.csv", "format": 5}]},
    {"resources": [{"name": "t", "path": "a.csv", "title": 5}]},
    {"resources": [{"name": "t", "path": "a.csv", "type": "table"}]},
    {"resources": [{"name": "t", "path": "a.csv"}, {"name": "t", "path": "b.csv"}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {}}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {"fields": "x"}}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {"fields": [{"name": "a"}]}}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {"fields": [
        {"name": "a", "type": "integr"}]}}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {"fields": [
        {"name": 5, "type": "string"}]}}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {"fields": [
        {"name": "a", "type": "string"}, {"name": "a", "type": "string"}]}}]},
    {"resources": [{"name": "t", "path": "a.csv", "schema": {"fields": [
        {"name": "a", "type": "datetime", "title": "A", "description": "d"}]}}]},
    {"resources": [], "licenses": [{"name": "CC-BY-4.0"}]},
    {"resources": [], "licenses": [{"title": "t"}]},
    {"resources": [], "licenses": "MIT"},
    {"resources": [], "keywords": [1]},
    {"resources": [], "keywords": "a"},
    {"resources": [], "title": 1, "description": 2, "version": 3, "homepage": 4},
    {"resources": [], "schedule": "0 0 * * *", "parameters": {"a": 1}, "job": {"team": "t"}},
]


@pytest.mark.parametrize("extra", AGREEMENT)
def test_fast_path_agrees_with_frictionless(extra: dict[str, Any]) -> None:
    descriptor = {"name": "p", **extra}
    fast = list(spec.fast_problems(descriptor))
    slow = spec.frictionless_problems(descriptor)
    assert bool(fast) == bool(slow), (fast, slow)


@pytest.mark.parametrize("descriptor", [
    {"$schema": "https://datapackage.org/profiles/2.0/datapackage.json", "name": "p",
     "resources": [{"name": "t", "type": "table", "path": "a.csv"}]},
    {"name": "p", "resources": [{"name": "t", "path": ["a.csv", "b.csv"]}]},
    {"name": "p", "resources": [{"name": "t", "data": [{"a": 1}]}]},
    {"name": "p", "resources": [{"name": "t", "path": "a.csv", "dialect": {"delimiter": ";"}}]},
])
def test_slow_path_v1_and_v2_valid(descriptor: dict[str, Any]) -> None:
    assert not spec.is_fast(descriptor)
    assert spec.problems(descriptor) == []


def test_slow_path_errors_get_pointers() -> None:
    descriptor = {"name": "p", "created": "yesterday", "resources": [
        {"name": "t", "path": "a.csv", "dialect": {}, "schema": {"fields": [
            {"name": "a", "type": "integer"}], "primaryKey": "b"}}]}
    found = spec.problems(descriptor)
    assert [p for p, _, _ in found] == ["/created", "/resources/0/schema"]
    assert "primary key" in found[1][1]


def test_annotations_are_relative_to_the_git_root(cli: Callable[..., Result],
                                                  repo: Repo) -> None:
    package(repo, "mono/packages/p", timeout=0)
    repo.write("mono/dvbuild.yaml", "ignore: ['**/*.md']\n")
    result = cli("validate", "--repo", repo.path / "mono", env={"GITHUB_ACTIONS": "true"})
    assert result.out.startswith("packages/p/datapackage.json:")
    assert "::error file=mono/packages/p/datapackage.json,line=" in result.err


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("global: " + "[" * 10_000 + "]" * 10_000, "YAML nested too deeply"),
    ("sources:\n  dvh: 5\n", "source 'dvh' has no url"),
    ("global: [a\n", "invalid YAML"),
])
def test_bad_config_files(cli: Callable[..., Result], repo: Repo, yaml_text: str,
                          message: str) -> None:
    repo.write("dvbuild.yaml", yaml_text)
    package(repo)
    found = problems(cli, repo)
    assert [p["file"] for p in found] == ["dvbuild.yaml"]
    assert found[0]["message"].startswith(message)


def test_relative_paths_fall_back_to_the_repo_root(cli: Callable[..., Result], repo: Repo,
                                                   tmp_path: Path) -> None:
    package(repo, timeout=0)
    result = cli("validate", "--json", "--repo", repo.path, "packages/p", cwd=tmp_path)
    assert [p["pointer"] for p in result.json()["problems"]] == ["/timeout"]


@pytest.mark.parametrize(("extra", "pointer", "message"), [
    ({"profile": "https://example.invalid/profile.json"}, "/profile",
     "profile is 'https://example.invalid/profile.json': custom profiles are not supported"),
    ({"$schema": "/etc/passwd"}, "/$schema",
     "$schema is '/etc/passwd': custom profiles are not supported"),
    ({"resources": [{"name": "t", "path": "a.csv", "schema": "https://example.invalid/s.json"}]},
     "/resources/0/schema", "schema refers to 'https://example.invalid/s.json'"),
    ({"resources": [{"name": "t", "path": "a.csv", "dialect": "../d.json"}]},
     "/resources/0/dialect", "dialect refers to '../d.json'"),
])
def test_frictionless_never_fetches(extra: dict[str, Any], pointer: str, message: str) -> None:
    found = spec.problems({"name": "p", "resources": [], **extra})
    assert [(p, m) for p, m, _ in found] == [(pointer, message)]


def test_schema_file_inside_the_folder_is_allowed(tmp_path: Path) -> None:
    descriptor = {"name": "p", "resources": [{"name": "t", "path": "a.csv",
                                              "schema": "schema.json"}]}
    assert spec.problems(descriptor, tmp_path) == []


def test_outside_a_git_repository(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert cli("init", "ny", cwd=tmp_path).code == 0
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden/datapackage.json").write_text("not json")
    assert cli("validate", "ny", cwd=tmp_path).code == 0
    result = cli("validate", "--json", "--repo", tmp_path)
    assert result.json() == {"ok": True, "packages": 1, "problems": [], "warnings": []}


def test_positions_with_tricky_strings() -> None:
    text = ('{"a": "x,\\"}]:[{", "b~/c": {"d": ["]", "\\\\", {"e": 1}]},\n'
            '"é": true, "f": -1.5e3, "g": null}')
    found = positions(text, ["/b~0~1c/d/2/e", "/é", "/f", "/g"])
    assert found == {"/b~0~1c/d/2/e": (1, 47), "/é": (2, 1), "/f": (2, 12), "/g": (2, 25)}


def test_fifo_descriptor_does_not_block(cli: Callable[..., Result], repo: Repo) -> None:
    from dvbuild.package import parse_descriptor

    package(repo, text="")
    descriptor = repo.path / "packages/p/datapackage.json"
    descriptor.unlink()
    os.mkfifo(descriptor)
    assert problems(cli, repo) == []  # git does not list FIFOs: not a package
    with pytest.raises(ConfigError, match="not a regular file"):
        parse_descriptor(descriptor, "packages/p/datapackage.json")


def test_names_used_twice_are_reported_where_they_repeat() -> None:
    from dvbuild.validate import spec

    schema = {"fields": [{"name": "a", "type": "string"}, {"name": "a", "type": "string"}]}
    descriptor = {"name": "p", "resources": [
        {"name": "r", "path": "r.csv", "schema": schema}, {"name": "r", "path": "s.csv"}]}
    found = {(pointer, message) for pointer, message, _ in spec.problems(descriptor)}
    assert ("/resources/1/name", "resource name 'r' is used twice") in found
    assert ("/resources/0/schema/fields/1/name", "field name 'a' is used twice") in found


@pytest.mark.parametrize(("reads", "pointer", "message", "expected"), [
    ("befolkning", "/reads", "reads is a string", "a list of package names"),
    (["B"], "/reads/0", "name is 'B'", "a lowercase slug"),
    ([5], "/reads/0", "reads entry is 5", 'a package name, or {"name": "<name>", "external": true}'),
    ([{"external": True}], "/reads/0/name", "name is missing", "a lowercase slug"),
    ([{"name": "befolkning", "external": "yes"}], "/reads/0/external", "external is 'yes'", "true or false"),
    ([{"name": "befolkning", "extrenal": True}], "/reads/0/extrenal",
     "unknown key 'extrenal' in a reads entry; did you mean 'external'?", "only 'name'"),
    (["befolkning", {"name": "befolkning"}], "/reads/1",
     "'befolkning' is listed twice (also /reads/0)", "each package once"),
    (["p"], "/reads/0", "'p' reads itself", "names of other packages"),
    ([{"name": "p"}], "/reads/0/name", "'p' reads itself", "names of other packages"),
    (["befolknig"], "/reads/0",
     "'befolknig' is not a package in this monorepo; did you mean 'befolkning'?",
     'a package of this monorepo, or {"name": "befolknig", "external": true}'),
    (["zzz"], "/reads/0", "'zzz' is not a package in this monorepo", "a package of this"),
    ([{"name": "befolkning", "external": True}], "/reads/0/external",
     "'befolkning' is marked external, but it is the package in packages/befolkning",
     'no "external" for a package of this monorepo'),
])
def test_bad_reads(cli: Callable[..., Result], repo: Repo, reads: Any, pointer: str,
                   message: str, expected: str) -> None:
    package(repo, "packages/befolkning")
    package(repo, reads=reads)
    found = only(cli, repo)
    assert (found["file"], found["pointer"], found["message"]) == \
        ("packages/p/datapackage.json", pointer, message)
    assert found["expected"].startswith(expected)
    assert found["line"] is not None


def test_good_reads(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "packages/a")
    package(repo, "packages/b", reads=["a"])
    package(repo, reads=["b", {"name": "a"}, {"name": "bef", "external": True},
                         {"name": "a2", "external": False}])
    package(repo, "packages/a2")
    assert problems(cli, repo) == []


def test_read_cycle_is_reported_on_each_package(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "packages/a", text='{\n  "name": "a",\n  "resources": [],\n  "reads": ["b"]\n}\n')
    package(repo, "packages/b", reads=["c", "a"])
    package(repo, "packages/c", reads=["a"])
    package(repo, "packages/d", reads=["a"])  # reads the cycle, is not on it
    found = problems(cli, repo)
    assert [(p["file"], p["pointer"], p["message"]) for p in found] == [
        ("packages/a/datapackage.json", "/reads", "read cycle: a → b → a"),
        ("packages/b/datapackage.json", "/reads", "read cycle: b → a → b"),
        ("packages/c/datapackage.json", "/reads", "read cycle: c → a → b → c"),
    ]
    assert found[0]["line"] == 4
    assert found[0]["expected"] == "packages that do not read each other in a cycle"


def test_reads_checked_against_packages_not_asked_about(cli: Callable[..., Result],
                                                        repo: Repo) -> None:
    package(repo, "packages/a", reads=["b"])
    package(repo, "packages/b", reads=["a", "nope"])
    package(repo, "packages/c", reads=["a"])
    found = problems(cli, repo, str(repo.path / "packages/c"))
    assert found == []
    found = problems(cli, repo, "packages/a")
    assert [(p["file"], p["message"]) for p in found] == [
        ("packages/a/datapackage.json", "read cycle: a → b → a")]


def test_read_cycle_human_output(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "packages/a", text='{"name": "a", "resources": [], "reads": ["b"]}')
    package(repo, "packages/b", text='{"name": "b", "resources": [], "reads": ["a"]}')
    result = cli("validate", "--repo", repo.path)
    assert result.code == 2
    assert result.out.splitlines() == [
        "packages/a/datapackage.json:1:32 /reads: read cycle: a → b → a "
        "(expected packages that do not read each other in a cycle)",
        "packages/b/datapackage.json:1:32 /reads: read cycle: b → a → b "
        "(expected packages that do not read each other in a cycle)",
        "2 problems (2 packages checked)",
    ]


# --- issue #13: YAML descriptors, duplicate keys, custom keys, v2 profiles -------------------

def test_yaml_descriptor_is_validated_with_yaml_lines(cli: Callable[..., Result],
                                                      repo: Repo) -> None:
    repo.write("geo/main.ipynb", NB)
    repo.write("geo/datapackage.yaml", "name: geo\nresources:\n  - name: a\n    path: a.csv\n")
    assert problems(cli, repo) == []
    assert problems(cli, repo, str(repo.path / "geo" / "datapackage.yaml")) == []
    repo.write("geo/datapackage.yaml", "name: geo\nschedule: nope\nresources:\n"
               "  - name: Big Table\n    path: /abs.csv\njob:\n  team: t\n")
    found = problems(cli, repo)
    assert [(p["file"], p["pointer"], p["line"]) for p in found] == [
        ("geo/datapackage.yaml", "/schedule", 2),
        ("geo/datapackage.yaml", "/resources/0/name", 4),
        ("geo/datapackage.yaml", "/resources/0/path", 5)]


def test_two_descriptors_in_one_folder(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "p")
    repo.write("p/datapackage.yml", "name: p\nresources: []\n")
    found = only(cli, repo)
    assert found["message"] == "p/datapackage.json and p/datapackage.yml are both in one folder"
    assert found["expected"].startswith("one descriptor per package folder")


def test_yaml_bomb_is_refused(cli: Callable[..., Result], repo: Repo) -> None:
    repo.write("p/main.ipynb", NB)
    repo.write("p/datapackage.yaml", "name: p\nresources: []\na: &a [x, x]\nb: &b [*a, *a]\n")
    found = only(cli, repo)
    assert (found["file"], found["line"]) == ("p/datapackage.yaml", 4)
    assert "aliases (*name) are not supported" in found["message"]


def test_duplicate_keys_in_datapackage_json(cli: Callable[..., Result], repo: Repo) -> None:
    package(repo, "p", text='{\n  "name": "p",\n  "resources": [{"name": "a", "path": "a.csv",\n'
            '    "path": "b.csv"}],\n  "schedule": null\n}\n')
    found = only(cli, repo)
    assert (found["file"], found["pointer"], found["line"]) == (
        "p/datapackage.json", "/resources/0/path", 4)
    assert found["message"] == "key 'path' is given twice in the same object (first at line 3)"


@pytest.mark.parametrize("fields, pointer, message", [
    ({"related": [{"path": "/core/x"}]}, "/related",
     "unknown key 'related'; did you mean 'created'?"),
    ({"license_id": "odc-pddl", "num_resources": 1}, "/license_id",
     "unknown key 'license_id'; did you mean 'licenses'?"),
    ({"schedul": "0 6 * * *"}, "/schedul", "unknown key 'schedul'; did you mean 'schedule'?"),
    ({"test_params": {}}, "/test_params",
     "unknown key 'test_params'; did you mean 'test_parameters'?"),
    ({"resources": [{"name": "a", "path": "a.csv", "decription": "x"}]},
     "/resources/0/decription", "unknown key 'decription'; did you mean 'description'?"),
])
def test_custom_keys_are_warnings(cli: Callable[..., Result], repo: Repo,
                                  fields: dict[str, Any], pointer: str, message: str) -> None:
    package(repo, **fields)
    result = cli("validate", "--json", "--repo", repo.path)
    doc = result.json()
    assert (result.code, doc["ok"], doc["problems"]) == (0, True, [])
    assert (doc["warnings"][0]["pointer"], doc["warnings"][0]["message"]) == (pointer, message)
    assert doc["warnings"][0]["line"] is not None
    human = cli("validate", "--repo", repo.path)
    assert human.code == 0
    assert "warning: packages/p/datapackage.json:" in human.out and message in human.out
    assert human.out.splitlines()[-1].startswith("ok: 1 package valid (")


def test_v2_schema_carries_into_resources(cli: Callable[..., Result], repo: Repo) -> None:
    """frictionless-py 5 says VALID: object-form missingValues are v2, and the package's
    `$schema` says v2 (a resource checked on its own must not fall back to v1)."""
    schema = {"fields": [{"name": "x", "type": "integer"}],
              "missingValues": [{"value": "NA", "label": "not available"}]}
    resource = {"name": "a", "path": "a.csv", "type": "table", "schema": schema}
    package(repo, **{"$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
                     "resources": [resource]})
    assert problems(cli, repo) == []
    package(repo, resources=[resource])  # without `$schema` the package is v1
    assert "require datapackage v2" in only(cli, repo)["message"]
