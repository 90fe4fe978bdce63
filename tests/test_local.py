"""`dvbuild local` through the CLI, on the example monorepo as a subfolder of a git repo."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, Repo, Result
from tests.test_pipeline import add_csv_package


def test_example_monorepo_in_a_subfolder(
    make_repo: Callable[..., Repo], tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = make_repo()
    shutil.copytree(EXAMPLES, repo.path / "examples" / "monorepo",
                    ignore=shutil.ignore_patterns("out", ".ipynb_checkpoints"))
    repo.write("README.md", "the team's other things\n")
    repo.commit("example monorepo in a subfolder")
    out = tmp_path / "demo"
    result = cli("local", "--repo", repo.path / "examples" / "monorepo", "--all", "--out", out,
                 "--no-build", "--json", cwd=repo.path)
    assert result.code == 0, result.err
    doc = result.json()
    names = sorted(p.name for p in (EXAMPLES / "packages").iterdir() if p.is_dir())
    assert sorted(doc["packages"]) == names
    assert {s["name"]: s["status"] for s in doc["steps"]}["publish"] == "ok"
    comment = (out / "comment.md").read_text()
    for name in names:
        assert f"`{name}`" in comment
    assert comment.count("<details><summary>Preview") >= len(names)
    assert (out / "store").is_dir() and (out / "manifests").is_dir()
    assert (out / "summary.md").is_file()
    assert_lineage(cli, out, repo.path)


def test_a_rerun_on_the_same_data_publishes_nothing(
    make_repo: Callable[..., Repo], tmp_path: Path, cli: Callable[..., Result]
) -> None:
    """Executed notebooks and their HTML differ between runs (timings, ids); the data
    does not, so the second run lands on the versions the first one made."""
    repo = make_repo()
    shutil.copytree(EXAMPLES, repo.path / "monorepo",
                    ignore=shutil.ignore_patterns("out", ".ipynb_checkpoints"))
    repo.commit("example monorepo")
    out = tmp_path / "demo"
    runs = [cli("local", "--repo", repo.path / "monorepo", "--all", "--out", out, "--no-build",
                "--json", cwd=repo.path) for _ in range(2)]
    for run in runs:
        assert run.code == 0, run.err
    first, second = ({r["name"]: r for r in run.json()["results"]["publish"]} for run in runs)
    # (packages others read were published before them: `unchanged` by the publish step)
    assert {r["status"] for r in first.values()} <= {"published", "unchanged"}
    assert {n: (r["status"], r["uploaded"]) for n, r in second.items()} == {
        n: ("unchanged", 0) for n in first}
    assert {n: r["version"] for n, r in second.items()} == {n: r["version"] for n, r in first.items()}
    for name in first:
        assert [p.name for p in (out / "store" / name / "versions").iterdir()] == [first[name]["version"]]
    # the rerun's notebook differs (papermill's timings); the version keeps the first one's
    stored = out / "store/befolkning/versions" / first["befolkning"]["version"] / "befolkning.ipynb"
    assert stored.read_bytes() != (out / "packages/befolkning/befolkning.ipynb").read_bytes()
    step = {s["name"]: s for s in runs[1].json()["steps"]}["publish"]
    assert step["detail"].startswith("test outputs published to the local store")
    report = json.loads((out / "packages" / "befolkning" / "report.json").read_text())
    assert report["mode"] == "test" and report["dvbuild_version"]


def assert_lineage(cli: Callable[..., Result], out: Path, cwd: Path) -> None:
    """ledighet-per-innbygger reads two packages of the same run: they ran first, were
    published to the local store, and every version records what it read."""
    report = json.loads((out / "packages" / "ledighet-per-innbygger" / "report.json").read_text())
    assert report["status"] == "passed", report.get("error")
    assert sorted(i["name"] for i in report["inputs"]) == ["arbeidsledighet", "befolkning"]
    catalog = f"file://{out / 'catalog'}"
    down = cli("lineage", "ledighet-per-innbygger", "--catalog", catalog, "--json", cwd=cwd)
    assert down.code == 0, down.err
    upstream = {n["name"]: n["version"] for n in down.json()["upstream"]}
    assert set(upstream) == {"arbeidsledighet", "befolkning"}
    up = cli("lineage", "befolkning", "--catalog", catalog, cwd=cwd)
    assert up.code == 0, up.err
    assert f"befolkning {upstream['befolkning']}" in up.out
    assert "└─ ledighet-per-innbygger" in up.out


def test_default_out_inside_the_repo_is_not_taken_for_packages(
    make_repo: Callable[..., Repo], cli: Callable[..., Result]
) -> None:
    repo = make_repo()
    add_csv_package(repo, "good", rows=2)
    repo.commit("one package")
    first = cli("local", "--all", "--no-build", cwd=repo.path)
    assert first.code == 0, first.err
    assert (repo.path / "out" / "comment.md").is_file()
    assert "results in" in first.out and "publish" in first.out
    # out/packages/good/datapackage.json must not count as a second package
    again = cli("local", "--all", "--no-build", "--json", cwd=repo.path)
    assert again.code == 0, again.err
    assert json.loads(again.out)["packages"] == ["good"]
    assert repo.git("status", "--porcelain") == ""


def test_bad_ref_is_bad_input(make_repo: Callable[..., Repo], tmp_path: Path,
                              cli: Callable[..., Result]) -> None:
    repo = make_repo()
    result = cli("local", "--base", "no-such-ref", "--head", "HEAD", "--out", tmp_path / "o",
                 cwd=repo.path)
    assert result.code == 2
    assert "no-such-ref" in result.err
    assert "Traceback" not in result.err


def test_plain_progress_lines_in_ci(make_repo: Callable[..., Repo], tmp_path: Path,
                                    cli: Callable[..., Result]) -> None:
    repo = make_repo()
    summary = tmp_path / "summary"
    summary.write_text("")
    result = cli("local", "--all", "--out", tmp_path / "o", cwd=repo.path,
                 env={"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 0, result.err
    assert summary.read_text().startswith("## dvbuild")
    assert "::group::dvbuild detect" in result.err
    assert "detect: ok" in result.err


@pytest.mark.docker
def test_images_are_built_when_an_engine_answers(
    make_repo: Callable[..., Repo], tmp_path: Path, cli: Callable[..., Result],
    docker_services: Any,
) -> None:
    repo = make_repo()
    repo.write("dvbuild.yaml", f"registry: {docker_services.registry}/local\n"
                               f"base_image: {docker_services.base_image}\n")
    add_csv_package(repo, "good", rows=2)
    repo.write("packages/good/requirements.txt", "# stdlib only\n")
    repo.commit("one package")
    result = cli("local", "--all", "--out", tmp_path / "out", "--json", cwd=repo.path,
                 env=docker_services.environ)
    assert result.code == 0, result.err
    doc = result.json()
    assert {s["name"]: s["status"] for s in doc["steps"]}["build"] == "ok"
    built = doc["results"]["build"]
    assert [b["package"] for b in built] == ["good"]
    assert built[0]["image"].startswith(f"{docker_services.registry}/local/good")
    assert not built[0]["pushed"]  # local never pushes
    docker_services.api().inspect_image(built[0]["image"])


def test_a_repository_without_commits_runs_through_render(
    make_repo: Callable[..., Repo], tmp_path: Path, cli: Callable[..., Result]
) -> None:
    repo = make_repo(commit=False)
    repo.write("dvbuild.yaml", "naisjob:\n  team: data\n")
    add_csv_package(repo, "fresh", rows=2)
    descriptor = json.loads((repo.path / "packages/fresh/datapackage.json").read_text())
    repo.write("packages/fresh/datapackage.json", json.dumps({**descriptor, "schedule": "@daily"}))
    result = cli("local", "--no-build", "--json", "--out", tmp_path / "o", cwd=repo.path)
    assert result.code == 0, result.err
    render = next(s for s in result.json()["steps"] if s["name"] == "render")
    assert render["status"] == "ok" and render["detail"] == "1 manifest(s)"
    assert (tmp_path / "o" / "manifests" / "fresh.yaml").is_file()
