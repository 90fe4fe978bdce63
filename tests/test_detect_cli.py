"""The typer-free fast path of `dvbuild detect` and the typer command agree."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import typer

from dvbuild.cli import get_app
from dvbuild.detect.cli import FLAGS, VALUES, Options, parse_fast
from tests.conftest import Repo, Result


def typer_options() -> set[str]:
    command = typer.main.get_command(get_app())
    detect = command.commands["detect"]  # type: ignore[attr-defined]
    return {opt for p in detect.params for opt in p.opts}


def test_fast_parser_knows_exactly_the_typer_options() -> None:
    assert set(FLAGS) | set(VALUES) == typer_options()


def test_parse_fast() -> None:
    assert parse_fast(["--base", "a", "--head=b", "--json", "--all"]) == Options(
        base="a", head="b", json=True, all_=True)
    assert parse_fast([]) == Options()
    for args in (["--help"], ["--base"], ["--base", "--json"], ["--nope"], ["extra"]):
        assert parse_fast(args) is None, args


def test_help_and_usage_errors_go_through_typer(cli: Callable[..., Result]) -> None:
    result = cli("detect", "--help")
    assert result.code == 0 and "--since-published" in result.out
    result = cli("detect", "--base")
    assert result.code == 2


def test_bad_event_file_is_exit_2(cli: Callable[..., Result], make_repo: Callable[..., Repo],
                                  tmp_path: Path) -> None:
    repo = make_repo()
    bad = tmp_path / "event.json"
    bad.write_text("[1, 2")
    result = cli("detect", "--repo", repo.path, "--event", bad)
    assert result.code == 2
    assert str(bad) in result.err and "Traceback" not in result.err
    result = cli("detect", "--repo", repo.path, "--event", tmp_path / "missing.json")
    assert result.code == 2


def test_bad_glob_in_dvbuild_yaml_is_exit_2(cli: Callable[..., Result],
                                            make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    repo.write("dvbuild.yaml", "ignore:\n  - '!keep.md'\n")
    repo.write_package("p")
    base = repo.commit()
    repo.write("p/x.py")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base)
    assert result.code == 2
    assert "dvbuild.yaml /ignore/0" in result.err


def test_working_tree_deleted_package(cli: Callable[..., Result],
                                      make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    repo.write_package("packages/old", name="old-pkg")
    repo.write("packages/old/main.ipynb", "{}\n")
    repo.commit()
    repo.git("rm", "-q", "-r", "packages/old")
    result = cli("detect", "--repo", repo.path, "--json")
    assert result.code == 0, result.err
    assert result.json()["removed"] == [{"name": "old-pkg", "path": "packages/old"}]


HOSTILE = "x\n::error title=X::Y\n::add-mask::main\n  ::stop-commands::tok\r##[add-mask]main\nz"
OWN_COMMAND = re.compile(r"^::(notice|warning|error)( file=[^:,]*(,line=\d+)?)?::")


def runner_lines(text: str) -> list[str]:
    """Output as the Actions runner reads it: a line ends at LF, CR or CRLF."""
    return re.split(r"\r\n|\r|\n", text)


def assert_no_injected_commands(text: str) -> None:
    for line in runner_lines(text):
        if line.lstrip().startswith("::"):
            assert OWN_COMMAND.match(line), line  # dvbuild's own, with escaped properties
        assert "##[" not in line, line


def test_hostile_file_names_emit_no_workflow_commands(
    cli: Callable[..., Result], make_repo: Callable[..., Repo]
) -> None:
    repo = make_repo(commit=False)
    repo.write_package("packages/ok")
    base = repo.commit()
    folder = f"packages/f {HOSTILE}"
    repo.write_package(folder, name="hostile")
    repo.write(f"{folder}/{HOSTILE}.py")
    repo.write(f"packages/ok/{HOSTILE}.txt")
    repo.write(f"{HOSTILE}.md")  # unowned
    repo.commit()
    env = {"GITHUB_ACTIONS": "true"}
    result = cli("detect", "--repo", repo.path, "--base", base, env=env)
    assert result.code == 0, result.err
    assert "%0A::error title=X::Y%0A::add-mask::main" in result.out  # escaped, on its line
    assert_no_injected_commands(result.out + "\n" + result.err)
    listed = cli("detect", "--repo", repo.path, "--base", base, "--json", env=env).json()
    assert folder in [p["path"] for p in listed["packages"]]  # JSON keeps the real path

    repo.write_package(f"{folder}/{HOSTILE},line=1:nested", name="nested")  # nesting: an error
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--base", base, env=env)
    assert result.code == 2
    assert "::error file=" in result.err
    assert_no_injected_commands(result.out + "\n" + result.err)
