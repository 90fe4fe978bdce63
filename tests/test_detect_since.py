"""detect --since-published: a real file store written by dvbuild.publish."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from dvbuild.detect.inputs import input_hash
from dvbuild.package import load_package
from dvbuild.publish import publish_dirs
from dvbuild.settings import load_settings
from tests.conftest import Repo, Result


def publish(repo: Repo, name: str, store: str, tmp_path: Path) -> None:
    settings = load_settings(repo.path, environ={})
    package = load_package(repo.path / "packages" / name, repo.path)
    out = tmp_path / "out" / name
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(package.folder, out)
    results = publish_dirs([out], store, None, environ={}, commit=repo.head,
                           input_hash=input_hash(settings, package))
    assert results


def test_since_published(cli: Callable[..., Result], make_repo: Callable[..., Repo],
                         tmp_path: Path) -> None:
    repo = make_repo(commit=False)
    for name in ("a", "b", "c"):
        repo.write_package(f"packages/{name}")
        repo.write(f"packages/{name}/README.md", f"# {name}\n")
    repo.commit()
    store = (tmp_path / "store").as_uri()
    publish(repo, "a", store, tmp_path)
    publish(repo, "c", store, tmp_path)
    repo.write("packages/c/more.txt", "changed after publishing\n")
    repo.commit()

    result = cli("detect", "--repo", repo.path, "--since-published", store, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["base"] is None and doc["head"] == repo.head and doc["all"] is False
    by_name = {p["name"]: p["reasons"][0] for p in doc["packages"]}
    assert by_name["b"] == "never published"
    assert by_name["c"].startswith("inputs changed since version 0.1.0-")
    assert "a" not in by_name  # published from exactly these inputs


def test_since_published_on_an_empty_store_is_everything(
        cli: Callable[..., Result], make_repo: Callable[..., Repo], tmp_path: Path) -> None:
    repo = make_repo(commit=False)
    repo.write_package("packages/a")
    repo.commit()
    result = cli("detect", "--repo", repo.path, "--since-published", (tmp_path / "s").as_uri(),
                 "--json")
    assert result.code == 0, result.err
    assert result.json()["all"] is True
