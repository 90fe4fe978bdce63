"""`dvbuild test --image` against a real Docker engine (tests/services/docker.py): the
image installs the package's lock (notebooks/envs.py) with uv, the test environment
the same lock, so both hold the same packages; the test runs through the image's
entrypoint and its report names the image.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import Repo, Result
from tests.services.docker import DockerServices

pytestmark = pytest.mark.docker

CELL = """\
import os, toolz
out = os.environ.get("DVBUILD_OUTPUT_DIR", ".")
with open(os.path.join(out, "parts.csv"), "w") as f:
    f.write("part\\n" + "\\n".join(str(sum(p)) for p in toolz.partition_all(2, range(rows))) + "\\n")
"""
# what the image has and the environment may not (or the other way round): the installers
# (uv is in neither: envs.HOST_ONLY)
NOT_COMPARED = {"dvbuild", "pip", "setuptools", "wheel"}


def toolz_notebook() -> str:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("rows = 10")
    params.metadata["tags"] = ["parameters"]
    nb.cells += [params, nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return str(nbformat.writes(nb))


@pytest.fixture(scope="module")
def toolz_repo(tmp_path_factory: pytest.TempPathFactory, docker_services: DockerServices) -> Repo:
    repo = Repo(tmp_path_factory.mktemp("toolz-repo"))
    repo.git("init", "-q", "-b", "main")
    repo.write("dvbuild.yaml", f"base_image: {docker_services.base_image}\n")
    repo.write_package("packages/parts", "parts", title="Parts", docker={"extras": []},
                       parameters={"rows": 10}, test_parameters={"rows": 4},
                       resources=[{"name": "parts", "path": "parts.csv", "format": "csv"}])
    repo.write("packages/parts/main.ipynb", toolz_notebook())
    repo.write("packages/parts/requirements.txt", "toolz\n")
    repo.commit("parts")
    return repo


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


def test_a_requirement_dvbuild_lacks_passes_in_the_image(
    cli: Callable[..., Result], toolz_repo: Repo, docker_services: DockerServices,
    tmp_path: Path, state: dict[str, Any],
) -> None:
    out = tmp_path / "out"
    result = cli("test", "--repo", toolz_repo.path, "--image", "--out", out, "--json",
                 toolz_repo.path / "packages/parts", env=docker_services.environ)
    assert result.code == 0, result.err
    assert result.json()["status"] == "passed"
    report = json.loads((out / "parts/report.json").read_text())
    assert report["status"] == "passed" and report["mode"] == "test"
    assert report["parameters"] == {"rows": 4}
    image = docker_services.api().inspect_image(report["image"]["ref"])
    assert report["image"]["digest"] in (image["Id"], *[d.split("@")[1] for d in image["RepoDigests"]])
    assert report["image"]["ref"].startswith("parts:") and len(report["image"]["ref"]) == 6 + 64
    assert (out / "parts/parts.csv").read_text().splitlines() == ["part", "1", "5"]
    assert (out / "parts/main.html").is_file() and (out / "parts.log").is_file()
    assert "uv pip install" in result.err and "[parts]" in result.err  # build, then the run
    state["ref"] = report["image"]["ref"]
    again = cli("test", "--repo", toolz_repo.path, "--image", "--out", out, "--json",
                toolz_repo.path / "packages/parts", env=docker_services.environ)
    assert again.code == 0, again.err
    assert "Step " not in again.err and "already exists" in again.err  # reused by its tag


def test_the_image_and_the_test_environment_hold_the_same_packages(
    docker_services: DockerServices, toolz_repo: Repo, state: dict[str, Any],
) -> None:
    from dvbuild.notebooks import envs
    from dvbuild.package import load_package

    package = load_package(toolz_repo.path / "packages/parts", toolz_repo.path)
    environ = {**os.environ, **docker_services.environ}
    lock = envs.lock_for(package, python="3.11", environ=environ)
    env = envs.ensure_env(lock, environ=environ)
    uv = envs.uv_bin()
    assert uv is not None
    host = subprocess.run([uv, "pip", "freeze", "--python", str(env.python)], capture_output=True,
                          text=True, check=True).stdout
    inside = docker_services.client().containers.run(
        state["ref"], ["pip", "freeze", "--python", "/opt/dvbuild/venv/bin/python"],
        entrypoint=["uv"], network_mode="none", remove=True).decode()
    assert frozen(inside) == frozen(host)
    assert any(line.startswith("toolz==") for line in frozen(inside))
    assert not any(line.startswith("uv==") for line in frozen(inside))


def frozen(text: str) -> list[str]:
    """`name==version` lines, names normalized, minus dvbuild and the installers."""
    lines = []
    for line in text.splitlines():
        name, sep, version = line.partition("==")
        key = name.strip().lower().replace("_", "-").replace(".", "-")
        if sep and key not in NOT_COMPARED:
            lines.append(f"{key}=={version.strip()}")
    return sorted(lines)
