"""`dvbuild render`: manifests for scheduled packages in a real git repo, pruning, exit codes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from dvbuild import manifests, schemas
from dvbuild.detect.inputs import input_hash
from dvbuild.package import discover
from dvbuild.settings import load_settings

CONFIG = "registry: ghcr.io/navikt\nnaisjob:\n  team: dataplatform\n"


def monorepo(make_repo: Callable[..., Any]) -> Any:
    repo = make_repo(commit=False)
    repo.write("dvbuild.yaml", CONFIG)
    repo.write_package("packages/daily", schedule="@daily", description='colon: "quote"\n---')
    repo.write_package("packages/weekdays", schedule="15 6 * * 1-5", timezone="Europe/Oslo")
    repo.write_package("packages/Odd_Name", name="odd_name." + "x" * 71, schedule="0 * * * *")
    repo.write_package("packages/on-push")
    repo.commit("packages")
    return repo


def read(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def test_render_writes_one_valid_naisjob_per_scheduled_package(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    out = tmp_path / "manifests"
    result = cli("render", "--repo", repo.path, "--out", out, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert sorted(m["package"] for m in doc["manifests"]) == ["daily", "odd_name." + "x" * 71,
                                                            "weekdays"]
    assert doc["skipped"] == [{"package": "on-push", "reason": "no schedule"}]
    files = sorted(out.glob("*.yaml"))
    assert [f.name for f in files] == sorted(Path(m["path"]).name for m in doc["manifests"])
    for f in files:
        manifest = read(f)
        assert not list(schemas.errors(schemas.naisjob_validator(), manifest))
        assert len(manifest["metadata"]["name"]) <= 63
    daily = read(out / "daily.yaml")
    assert daily["spec"]["schedule"] == "@daily"
    assert daily["metadata"]["annotations"]["dvbuild/description"] == 'colon: "quote"\n---'


def test_default_image_is_registry_name_and_input_hash(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    result = cli("render", repo.path / "packages/weekdays", "--repo", repo.path,
                 "--out", tmp_path, "--json")
    assert result.code == 0, result.err
    [m] = result.json()["manifests"]
    settings = load_settings(repo.path, environ={})
    [weekdays] = [p for p in discover(repo.path) if p.name == "weekdays"]
    repository, tag = m["image"].rsplit(":", 1)
    assert repository == "ghcr.io/navikt/weekdays"
    assert len(tag) >= 12 and input_hash(settings, weekdays).startswith(tag)


def test_render_before_the_first_commit_tags_the_working_tree(make_repo, cli, tmp_path):
    repo = make_repo(commit=False)
    repo.write("dvbuild.yaml", CONFIG)
    repo.write_package("packages/weekdays", schedule="15 6 * * 1-5")
    result = cli("render", "--repo", repo.path, "--out", tmp_path / "a", "--json")
    assert result.code == 0, result.err
    assert "no commit yet" in result.err
    [before] = result.json()["manifests"]
    repo.commit("first")  # the tree as it was: HEAD now hashes the same
    after = cli("render", "--repo", repo.path, "--out", tmp_path / "b", "--json")
    assert after.code == 0 and "no commit yet" not in after.err
    assert after.json()["manifests"][0]["image"] == before["image"]


def test_image_flag_with_placeholders(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "reg/{name}:v1",
                 "--json")
    assert {m["image"] for m in result.json()["manifests"]} >= {"reg/daily:v1", "reg/weekdays:v1"}


def test_cronjob_kind_passes_kubernetes_validate(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--kind", "cronjob",
                 "--image", "img")
    assert result.code == 0, result.err
    files = list(tmp_path.glob("*.yaml"))
    assert len(files) == 3
    for f in files:
        doc = read(f)
        assert doc["kind"] == "CronJob"
        assert kubernetes_validate.validate(doc, schemas.KUBERNETES_VERSION, strict=True)


def test_prune_removes_manifests_of_removed_packages(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    out = tmp_path / "out"
    assert cli("render", "--repo", repo.path, "--out", out, "--image", "img").code == 0
    (out / "hand-written.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (out / "other-tool.yaml").write_text("metadata:\n  labels: {team: x}\n")
    shutil.rmtree(repo.path / "packages/daily")
    repo.commit("remove daily")
    result = cli("render", "--repo", repo.path, "--out", out, "--image", "img")
    assert result.code == 0
    assert (out / "daily.yaml").exists()  # without --prune nothing is removed
    result = cli("render", "--repo", repo.path, "--out", out, "--image", "img", "--prune",
                 "--json")
    assert result.code == 0, result.err
    assert result.json()["pruned"] == [str(out / "daily.yaml")]
    assert not (out / "daily.yaml").exists()
    assert (out / "hand-written.yaml").exists() and (out / "other-tool.yaml").exists()
    assert (out / "weekdays.yaml").exists()


def test_losing_the_schedule_removes_the_manifest(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    assert cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "img").code == 0
    repo.write_package("packages/weekdays")
    repo.commit("unschedule")
    result = cli("render", repo.path / "packages/weekdays", "--repo", repo.path,
                 "--out", tmp_path, "--image", "img")
    assert result.code == 0
    assert "removed" in result.out
    assert not (tmp_path / "weekdays.yaml").exists()
    assert (tmp_path / "daily.yaml").exists()


def test_render_packages_prunes_named_packages(make_repo, tmp_path):
    repo = monorepo(make_repo)
    settings = load_settings(repo.path, environ={})
    packages = discover(repo.path)
    written = manifests.render_packages(settings, packages, tmp_path, image="img")
    assert len(written) == 3
    daily = [p for p in packages if p.name == "daily"]
    rest = [p for p in packages if p.name != "daily"]
    again = manifests.render_packages(settings, rest, tmp_path, image="img", prune=["daily"])
    assert len(again) == 2 and not (tmp_path / "daily.yaml").exists()
    assert manifests.render_packages(settings, daily, tmp_path, image="img") == [
        tmp_path / "daily.yaml"]


def test_invalid_manifest_is_exit_2_naming_the_package_file(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    repo.write_package("packages/weekdays", schedule="15 6 * * 1-5",
                       job={"resources": {"cpu": "a lot"}})
    repo.commit("bad cpu")
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "img")
    assert result.code == 2
    assert "packages/weekdays/datapackage.json /job/resources" in result.err
    assert "spec.resources.requests.cpu" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "weekdays.yaml").exists()
    assert (tmp_path / "daily.yaml").exists()  # the other packages are still rendered


def test_missing_team_and_bad_kind_are_input_errors(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    repo.write("dvbuild.yaml", "registry: r\n")
    repo.commit("no team")
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "img")
    assert result.code == 2 and "/job/team" in result.err
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--kind", "deployment")
    assert result.code == 2 and "naisjob or cronjob" in result.err
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "a b")
    assert result.code == 2 and "--image" in result.err
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--kind", "cronjob",
                 "--image", "img")
    assert result.code == 0


def test_prune_recognises_reformatted_manifests(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    assert cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "img").code == 0
    # someone ran the file through a formatter: still ours, by label and annotation
    doc = read(tmp_path / "daily.yaml")
    (tmp_path / "daily.yaml").unlink()
    (tmp_path / "renamed.yaml").write_text(yaml.safe_dump(doc, default_flow_style=False))
    assert manifests.managed_manifests(tmp_path)["daily"] == [tmp_path / "renamed.yaml"]
    shutil.rmtree(repo.path / "packages/daily")
    repo.commit("remove daily")
    result = cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "img", "--prune")
    assert result.code == 0, result.err
    assert not (tmp_path / "renamed.yaml").exists()


def test_prune_with_paths_keeps_the_other_scheduled_packages(make_repo, cli, tmp_path):
    repo = monorepo(make_repo)
    assert cli("render", "--repo", repo.path, "--out", tmp_path, "--image", "img").code == 0
    before = sorted(p.name for p in tmp_path.glob("*.yaml"))
    result = cli("render", repo.path / "packages/daily", "--repo", repo.path, "--out", tmp_path,
                 "--image", "img", "--prune", "--json")
    assert result.code == 0 and result.json()["pruned"] == []
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == before
