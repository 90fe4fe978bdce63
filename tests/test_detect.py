"""detect on real git histories: each case of issue 2, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from dvbuild.detect.selection import owner, select
from tests.conftest import Repo, Result

CONFIG = "global:\n  - requirements-global.txt\nignore:\n  - '**/*.md'\n"


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    r = make_repo(commit=False)
    r.write("dvbuild.yaml", CONFIG)
    r.write("requirements-global.txt", "pandas\n")
    r.write("README.md", "# team\n")
    r.write("shared/lib/util.py", "X = 1\n")
    r.write_package("packages/a")
    r.write("packages/a/main.ipynb", "{}\n")
    r.write_package("packages/b", depends_on=["shared/lib"])
    r.write("packages/b/main.ipynb", "{}\n")
    r.write_package("packages/pkg1")
    r.write_package("packages/pkg10")
    r.commit("initial")
    return r


def detect(cli: Callable[..., Result], repo: Repo, *args: str) -> dict[str, Any]:
    result = cli("detect", "--repo", repo.path, "--json", *args)
    assert result.code == 0, result.err
    doc: dict[str, Any] = result.json()
    return doc


def names(doc: dict[str, Any]) -> list[str]:
    return [p["name"] for p in doc["packages"]]


def test_plain_change(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("packages/a/main.ipynb", '{"cells": []}\n')
    head = repo.commit()
    doc = detect(cli, repo, "--base", base, "--head", head)
    assert doc["base"] == base and doc["head"] == head
    assert doc["all"] is False and doc["fork"] is False
    assert doc["packages"] == [{"name": "a", "path": "packages/a",
                                "reasons": ["packages/a/main.ipynb"]}]
    assert doc["matrix"] == {"include": [{"name": "a", "path": "packages/a",
                                          "packages": ["packages/a"]}]}
    assert doc["removed"] == [] and doc["unowned"] == []


def test_several_commits_and_pkg1_is_not_pkg10(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("packages/pkg10/x.py")
    repo.commit()
    repo.write("packages/a/y.py")
    repo.commit()
    assert names(detect(cli, repo, "--base", base)) == ["a", "pkg10"]


def test_shared_dependency(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("shared/lib/util.py", "X = 2\n")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"] == [{"name": "b", "path": "packages/b", "reasons": ["shared/lib/util.py"]}]
    assert doc["unowned"] == []


def test_global_file_selects_every_package(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("requirements-global.txt", "pandas>=2\n")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["all"] is True
    assert names(doc) == ["a", "b", "pkg1", "pkg10"]
    assert all(p["reasons"] == ["requirements-global.txt"] for p in doc["packages"])


def test_ignored_and_unowned_files(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("packages/a/README.md", "docs only\n")
    repo.write("README.md", "# changed\n")
    repo.write("scripts/tool.sh", "echo\n")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"] == []
    assert doc["unowned"] == ["scripts/tool.sh"]


def test_deleted_package_is_removed(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.git("rm", "-q", "-r", "packages/pkg1")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"] == []
    assert doc["removed"] == [{"name": "pkg1", "path": "packages/pkg1"}]
    assert doc["unowned"] == []


def test_rename_across_packages_counts_both(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.git("mv", "packages/a/main.ipynb", "packages/pkg1/main.ipynb")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"] == [
        {"name": "a", "path": "packages/a", "reasons": ["packages/a/main.ipynb"]},
        {"name": "pkg1", "path": "packages/pkg1", "reasons": ["packages/pkg1/main.ipynb"]},
    ]


def test_renamed_package_folder(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.git("mv", "packages/pkg1", "packages/pkg-one")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert names(doc) == ["pkg1"] and doc["packages"][0]["path"] == "packages/pkg-one"
    assert doc["removed"] == [{"name": "pkg1", "path": "packages/pkg1"}]


def test_new_package(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write_package("packages/new-one", name="new-one")
    repo.write("packages/new-one/main.ipynb", "{}\n")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"][0]["name"] == "new-one"
    assert doc["packages"][0]["reasons"] == ["packages/new-one/datapackage.json",
                                             "packages/new-one/main.ipynb"]


def test_non_ascii_paths_with_spaces(cli: Callable[..., Result], repo: Repo) -> None:
    repo.write_package("pakker/år og dag", name="aar")
    base = repo.commit()
    repo.write("pakker/år og dag/spørring for år.sql", "select 1\n")
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"] == [{"name": "aar", "path": "pakker/år og dag",
                                "reasons": ["pakker/år og dag/spørring for år.sql"]}]


def test_mode_only_change_counts(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.git("update-index", "--chmod=+x", "packages/a/main.ipynb")
    repo.git("commit", "-q", "-m", "chmod")
    assert names(detect(cli, repo, "--base", base)) == ["a"]


def test_submodule_pointer_change_counts(cli: Callable[..., Result], repo: Repo,
                                         make_repo: Callable[..., Repo]) -> None:
    sub = make_repo()
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path),
             "packages/a/vendor")
    base = repo.commit("add submodule")
    sub.write("new.txt")
    sub.commit()
    repo.git("-C", "packages/a/vendor", "pull", "-q")
    repo.commit("bump submodule")
    doc = detect(cli, repo, "--base", base)
    assert doc["packages"][0]["reasons"] == ["packages/a/vendor"]


def test_nested_package_is_exit_2_naming_the_file(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write_package("packages/a/inner", name="inner")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base)
    assert result.code == 2
    assert "packages/a/inner/datapackage.json" in result.err
    assert "nested" in result.err


def test_malformed_descriptor_in_changed_folder_is_exit_2(cli: Callable[..., Result],
                                                          repo: Repo) -> None:
    base = repo.head
    repo.write("packages/a/datapackage.json", '{"name": "a",\n  "title": }\n')
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base, "--json")
    assert result.code == 2
    assert result.out == ""
    assert "packages/a/datapackage.json:2" in result.err
    assert "Traceback" not in result.err


def test_malformed_descriptor_elsewhere_does_not_block(cli: Callable[..., Result],
                                                       repo: Repo) -> None:
    repo.write("packages/pkg1/datapackage.json", '{"name": "pkg1", "depends_on": [}')
    base = repo.commit()
    repo.write("packages/a/x.py")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base, "--json")
    assert result.code == 0
    assert names(result.json()) == ["a"]
    assert "packages/pkg1/datapackage.json" in result.err


def test_bad_ref_is_exit_2(cli: Callable[..., Result], repo: Repo) -> None:
    result = cli("detect", "--repo", repo.path, "--base", "no-such-ref")
    assert result.code == 2
    assert "no-such-ref" in result.err


def test_all_flag(cli: Callable[..., Result], repo: Repo) -> None:
    doc = detect(cli, repo, "--all")
    assert doc["all"] is True and doc["base"] is None
    assert names(doc) == ["a", "b", "pkg1", "pkg10"]


def test_monorepo_in_a_subfolder(cli: Callable[..., Result], make_repo: Callable[..., Repo]) -> None:
    r = make_repo(commit=False)
    r.write("team/dvbuild.yaml", "ignore: ['*.md']\n")
    r.write_package("team/packages/x", name="x")
    r.write("tools/other.py")
    base = r.commit()
    r.write("team/packages/x/main.ipynb", "{}\n")
    r.write("team/notes.txt")
    r.write("tools/other.py", "changed\n")
    r.write("README.md", "outside\n")
    r.commit()
    result = cli("detect", "--repo", r.path / "team", "--base", base, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["packages"] == [{"name": "x", "path": "packages/x",
                                "reasons": ["packages/x/main.ipynb"]}]
    assert doc["unowned"] == ["notes.txt"]  # paths outside the monorepo are not its business


def test_working_tree_without_refs(cli: Callable[..., Result], repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("packages/a/x.py")
    repo.commit()
    repo.write("packages/b/uncommitted.py")
    result = cli("detect", "--repo", repo.path, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert names(doc) == ["a", "b"]
    assert doc["base"] != doc["head"]  # the merge-base with main
    assert "working tree" in result.err


def test_human_output(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("packages/a/main.ipynb", "changed\n")
    repo.write("tools/x.sh")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base)
    assert result.code == 0
    assert "1 package(s) to build:" in result.out
    assert "a  packages/a  (packages/a/main.ipynb)" in result.out
    assert "unowned (nothing built for them): tools/x.sh" in result.out


def test_github_step_outputs(cli: Callable[..., Result], repo: Repo, tmp_path: Any) -> None:
    base = repo.head
    repo.write("packages/a/main.ipynb", "changed\n")
    repo.commit()
    out = tmp_path / "github_output"
    out.write_text("earlier=1\n")
    result = cli("detect", "--repo", repo.path, "--base", base,
                 env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out)})
    assert result.code == 0, result.err
    values = parse_outputs(out.read_text())
    assert values["earlier"] == "1"
    assert json.loads(values["packages"]) == ["a"]
    assert json.loads(values["matrix"]) == {
        "include": [{"name": "a", "path": "packages/a", "packages": ["packages/a"]}]}
    assert values["any"] == "true"


def parse_outputs(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT the way the runner does (name=value and heredoc forms)."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


# --- the pure part ----------------------------------------------------------------

def test_select_is_pure_and_explains_itself() -> None:
    folders = ["packages/a", "packages/b"]
    sel = select(["packages/a/x.py", "lib/y.py", "docs/z.md", "old/p/file"], folders,
                 removed=["old/p"], ignore=["*.md"], depends={"packages/b": ["lib"]})
    assert sel.reasons == {"packages/a": ["packages/a/x.py"], "packages/b": ["lib/y.py"]}
    assert sel.unowned == [] and sel.all is False


def test_owner_takes_the_nearest_folder() -> None:
    assert owner("a/b/c.txt", {"a", "a/b"}) == "a/b"
    assert owner("a/bc/c.txt", {"a/b"}) is None
    assert owner("x.txt", {"."}) == "."


def test_bad_depends_on_glob_is_a_notice_not_a_crash(cli: Callable[..., Result],
                                                     repo: Repo) -> None:
    repo.write_package("packages/pkg1", depends_on=["!shared", "shared/lib"])
    base = repo.commit()
    repo.write("shared/lib/util.py", "X = 3\n")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base, "--json")
    assert result.code == 0, result.err
    assert names(result.json()) == ["b", "pkg1"]
    assert "packages/pkg1/datapackage.json /depends_on/0: negation" in result.err


def test_all_takes_the_working_tree_unless_head_is_given(cli: Callable[..., Result],
                                                         repo: Repo) -> None:
    repo.write_package("packages/not-committed-yet")
    assert "not-committed-yet" in names(detect(cli, repo, "--all"))
    assert "not-committed-yet" not in names(detect(cli, repo, "--all", "--head", "HEAD"))


def test_all_in_a_repository_without_commits(cli: Callable[..., Result],
                                             make_repo: Callable[..., Repo]) -> None:
    r = make_repo(commit=False)
    r.write_package("p")
    doc = detect(cli, r, "--all")
    assert doc["head"] is None and names(doc) == ["p"]


@pytest.mark.parametrize(("folders", "nested"), [
    (["a", "a-b", "a/c"], True),
    (["a", "a-b", "ab/c"], False),
    ([".", "x"], True),
    (["."], False),
    (["p/q/r", "p/q-r", "p"], True),
    (["p/q", "p/q2/x", "p/q1"], False),
])
def test_nesting_check(folders: list[str], nested: bool) -> None:
    from dvbuild.detect.selection import check_nesting
    from dvbuild.errors import ConfigError

    if nested:
        with pytest.raises(ConfigError):
            check_nesting(folders)
    else:
        check_nesting(folders)


def test_the_example_monorepo(cli: Callable[..., Result], example_repo: Repo) -> None:
    base = example_repo.head
    example_repo.write("shared/lib/teamdata/stats.py",
                       (example_repo.path / "shared/lib/teamdata/stats.py").read_text() + "\n# x\n")
    example_repo.write("packages/befolkning/README.md", "docs only\n")
    example_repo.commit()
    doc = detect(cli, example_repo, "--base", base)
    assert doc["packages"] == [{"name": "sykefravaer", "path": "packages/sykefravaer",
                                "reasons": ["shared/lib/teamdata/stats.py"]}]
    example_repo.write("requirements-common.txt", "pandas\n")
    example_repo.commit()
    doc = detect(cli, example_repo, "--base", base)
    assert doc["all"] is True
    assert names(doc) == ["arbeidsledighet", "befolkning", "ledighet-per-innbygger", "sykefravaer"]


# --- datapackage.yaml (issue #13) --------------------------------------------------------

def test_yaml_descriptors_are_packages(cli: Callable[..., Result], repo: Repo) -> None:
    repo.write("packages/geo/datapackage.yaml", "name: geo\nresources: []\ndepends_on:\n"
               "  - shared/lib\n")
    repo.write("team/x/datapackage.yml", "name: x\nresources: []\n")
    base = repo.commit()
    repo.write("packages/geo/main.ipynb", "{}\n")
    repo.write("shared/lib/util.py", "X = 2\n")  # geo's depends_on, read from its YAML
    repo.commit()
    doc = detect(cli, repo, "--base", base)
    assert [(p["name"], p["reasons"]) for p in doc["packages"]] == [
        ("b", ["shared/lib/util.py"]),
        ("geo", ["packages/geo/main.ipynb", "shared/lib/util.py"])]
    every = ["a", "b", "geo", "pkg1", "pkg10", "x"]
    assert names(detect(cli, repo, "--all")) == every  # the working tree's listing
    assert names(detect(cli, repo, "--all", "--head", "HEAD")) == every  # the commit's
    repo.git("rm", "-q", "-r", "team/x")
    old = repo.head
    repo.commit()
    assert detect(cli, repo, "--base", old)["removed"] == [{"name": "x", "path": "team/x"}]


def test_json_and_yaml_in_one_folder_is_exit_2(cli: Callable[..., Result], repo: Repo) -> None:
    base = repo.head
    repo.write("packages/a/datapackage.yaml", "name: a\n")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base)
    assert result.code == 2
    assert "packages/a/datapackage.json and packages/a/datapackage.yaml" in result.err


def test_yaml_descriptor_errors_name_the_yaml_file(cli: Callable[..., Result],
                                                   repo: Repo) -> None:
    base = repo.head
    repo.write("packages/geo/datapackage.yaml", "name: geo\nname: geo2\n")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base)
    assert result.code == 2
    assert "packages/geo/datapackage.yaml:2:1 /name: key 'name' is given twice" in result.err
