"""`dvbuild build` against a real Docker engine and a real registry (tests/services/docker.py).

One cold build per session; the tests after it run in file order and lean on
the layers it left in the engine: run offline, push, skip, rebuild after a
notebook-only change, and a broken requirements.txt.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import Repo, Result
from tests.services.docker import DockerServices

pytestmark = pytest.mark.docker

NOTEBOOK = """\
import csv, os
out = os.environ.get("DVBUILD_OUTPUT_DIR", ".")
with open(os.path.join(out, "greetings.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["language", "greeting"])
    w.writerows([["nb", "hei"], ["en", "hello"], ["{word}", "{word}"]])
"""


def notebook(word: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(NOTEBOOK.format(word=word)))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return str(nbformat.writes(nb))


def write_package(repo: Repo, rel: str, name: str, requirements: str, **fields: Any) -> None:
    repo.write_package(
        rel, name, title="Hello", description="Greetings in a few languages", version="1.2.3",
        docker={"extras": []},
        resources=[{"name": "greetings", "path": "greetings.csv", "format": "csv"}], **fields,
    )
    repo.write(f"{rel}/main.ipynb", notebook("first"))
    repo.write(f"{rel}/requirements.txt", requirements)
    repo.write(f"{rel}/.gitignore", "out/\n")
    repo.write(f"{rel}/out/old-output.csv", "not for the image\n")
    repo.write(f"{rel}/.dockerignore", "*.md\n")
    repo.write(f"{rel}/NOTES.md", "not for the image\n")


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory, docker_services: DockerServices) -> Repo:
    repo = Repo(tmp_path_factory.mktemp("hello-repo"))
    repo.git("init", "-q", "-b", "main")
    repo.write("dvbuild.yaml", f"registry: {docker_services.registry}/tests\n"
                               f"base_image: {docker_services.base_image}\n")
    repo.write("shared/lib/greet.py", "WORDS = ['hei']\n")
    write_package(repo, "packages/hello", "hello", "# stdlib only\n", depends_on=["shared/lib"])
    repo.commit("hello")
    return repo


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


def build(cli: Callable[..., Result], repo: Repo, services: DockerServices, *args: str) -> Result:
    return cli("build", "--repo", repo.path, "--json", *args, env=services.environ)


def only(result: Result) -> dict[str, Any]:
    assert result.code in (0, 1), result.err
    packages = result.json()["packages"]
    assert len(packages) == 1
    return dict(packages[0])


def test_cold_build(cli: Callable[..., Result], hello: Repo, docker_services: DockerServices,
                    state: dict[str, Any]) -> None:
    result = build(cli, hello, docker_services, str(hello.path / "packages/hello"))
    doc = only(result)
    assert result.code == 0, result.err
    assert doc["status"] == "built"
    repository = f"{docker_services.registry}/tests/hello"
    content_ref, commit_ref = doc["tags"]
    assert commit_ref == f"{repository}:{hello.head}"
    assert content_ref.startswith(repository + ":") and len(content_ref.rsplit(":", 1)[1]) == 64
    assert "Step " in result.err  # the engine's log went to stderr, line by line
    image = docker_services.api().inspect_image(content_ref)
    labels = image["Config"]["Labels"]
    assert labels["io.dvbuild.package"] == "hello"
    assert labels["io.dvbuild.input-hash"] == content_ref.rsplit(":", 1)[1]
    assert labels["org.opencontainers.image.revision"] == hello.head
    assert labels["org.opencontainers.image.version"] == "1.2.3"
    assert labels["org.opencontainers.image.title"] == "Hello"
    assert image["Config"]["User"] == "10001"
    assert image["Config"]["Entrypoint"] == ["dvbuild", "run", "/app/packages/hello"]
    assert not image["Config"].get("Healthcheck")
    assert f"DVBUILD_COMMIT={hello.head}" in image["Config"]["Env"]
    state["ref"], state["image_id"] = content_ref, image["Id"]


def test_image_holds_the_package_only(docker_services: DockerServices, state: dict[str, Any]) -> None:
    files = run_in_image(docker_services, state["ref"], ["sh", "-c", "cd /app && find . -type f "
                                                         "-not -path './.git/*' | sort"])
    assert files.split() == [
        "./dvbuild.yaml", "./packages/hello/.dockerignore", "./packages/hello/.gitignore",
        "./packages/hello/datapackage.json", "./packages/hello/main.ipynb",
        "./packages/hello/requirements.txt", "./shared/lib/greet.py",
    ]
    owner = run_in_image(docker_services, state["ref"], ["stat", "-c", "%u", "/app/packages/hello"])
    assert owner.strip() == "10001"  # the job's user owns its folder (WORKDIR made it first)
    version = run_in_image(docker_services, state["ref"], ["dvbuild", "--version"])
    from dvbuild import __version__

    assert version.strip() == __version__


def test_runs_offline_and_writes_outputs(
    docker_services: DockerServices, state: dict[str, Any], tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    client = docker_services.client()
    container = client.containers.run(
        state["ref"], ["--out", "/out/run", "--store", "file:///out/store"], network_mode="none",
        detach=True,
        volumes={str(out): {"bind": "/out", "mode": "rw"}},
    )
    try:
        code = container.wait(timeout=600)["StatusCode"]
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert code == 0, logs
    produced = out / "run" / "hello" / "greetings.csv"
    assert produced.read_text().splitlines()[:2] == ["language,greeting", "nb,hei"], logs
    latest = json.loads((out / "store" / "hello" / "latest.json").read_text())
    version = out / "store" / "hello" / "versions" / latest["version"]
    assert (version / "greetings.csv").read_bytes() == produced.read_bytes()
    manifest = json.loads((version / "_manifest.json").read_text())
    assert manifest["input_hash"] == state["ref"].rsplit(":", 1)[1]


def test_push_and_read_labels_from_registry(
    cli: Callable[..., Result], hello: Repo, docker_services: DockerServices, state: dict[str, Any],
) -> None:
    result = build(cli, hello, docker_services, "--push")
    doc = only(result)
    assert result.code == 0, result.err
    assert doc["status"] == "skipped" and doc["pushed"] is True  # built before: pushed as is
    name, tag = state["ref"].split("/", 1)[1].rsplit(":", 1)
    labels = registry_labels(docker_services.registry, name, tag)
    assert labels["io.dvbuild.package"] == "hello"
    assert labels["org.opencontainers.image.revision"] == hello.head


def test_no_change_skips(
    cli: Callable[..., Result], hello: Repo, docker_services: DockerServices, state: dict[str, Any],
) -> None:
    result = build(cli, hello, docker_services)
    doc = only(result)
    assert result.code == 0, result.err
    assert doc["status"] == "skipped"
    assert "already in the registry" in doc["message"]
    assert "Step " not in result.err


def test_notebook_change_reuses_dependency_layers(
    cli: Callable[..., Result], hello: Repo, docker_services: DockerServices, state: dict[str, Any],
) -> None:
    hello.write("packages/hello/main.ipynb", notebook("second"))
    hello.commit("notebook only")
    result = build(cli, hello, docker_services)
    doc = only(result)
    assert result.code == 0, result.err
    assert doc["status"] == "built"
    assert doc["image"] != state["ref"]
    steps = step_outcomes(result.err)
    pip_steps = [s for s in steps if "pip install" in s[0]]
    assert len(pip_steps) == 2 and all(cached for _, cached in pip_steps), result.err  # lock, wheel
    assert not steps[-3][1] and "COPY --chown" in steps[-3][0]  # the package files copied again
    api = docker_services.api()
    before = pip_layers(api, state["image_id"])
    assert before and before == pip_layers(api, doc["image"])


def test_broken_requirements_shows_the_resolvers_error(
    cli: Callable[..., Result], hello: Repo, docker_services: DockerServices,
) -> None:
    write_package(hello, "packages/broken", "broken", "dvbuild-no-such-package-xyz==0.0.1\n")
    hello.commit("broken")
    result = build(cli, hello, docker_services, str(hello.path / "packages/broken"))
    doc = only(result)
    assert result.code == 1
    assert doc["status"] == "failed"
    assert "dvbuild-no-such-package-xyz" in doc["error"]  # uv's resolution error, from the lock
    assert "error: broken:" in result.err


def test_fresh_engine_uses_the_registry_build_cache(
    cli: Callable[..., Result], hello: Repo, docker_services: DockerServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A new CI runner's empty engine: the pip layers come from <repo>:buildcache."""
    from tests.services.docker import running_dockerd

    hello.write("packages/hello/main.ipynb", notebook("third"))
    hello.commit("notebook again")
    with running_dockerd(tmp_path_factory.mktemp("fresh-dockerd")) as host:
        fresh = DockerServices(host, docker_services.registry, docker_services.base_image,
                               docker_services.wheel)
        result = build(cli, hello, fresh, "--push", str(hello.path / "packages/hello"))
    doc = only(result)
    assert result.code == 0, result.err
    assert doc["status"] == "built" and doc["pushed"] is True
    assert "as build cache" in result.err
    pip_steps = [s for s in step_outcomes(result.err) if "pip install" in s[0]]
    assert len(pip_steps) == 2 and all(cached for _, cached in pip_steps), result.err


def test_unreachable_registry_only_warns_without_push(
    cli: Callable[..., Result], hello: Repo, docker_services: DockerServices,
) -> None:
    from tests.services.docker import free_port

    closed = f"127.0.0.1:{free_port()}"
    hello.write("dvbuild.yaml", f"registry: {closed}/tests\n"
                                f"base_image: {docker_services.base_image}\n")
    hello.commit("registry moved")
    result = build(cli, hello, docker_services, str(hello.path / "packages/hello"))
    doc = only(result)
    assert result.code == 0, result.err
    assert doc["status"] == "built" and doc["image"].startswith(closed)
    assert "building without checking the registry" in result.err
    pushed = build(cli, hello, docker_services, "--push", str(hello.path / "packages/hello"))
    assert pushed.code == 1
    assert only(pushed)["status"] == "failed"


# ---- helpers ------------------------------------------------------------------------


def run_in_image(services: DockerServices, ref: str, command: list[str]) -> str:
    out = services.client().containers.run(ref, command[1:], entrypoint=command[:1],
                                           network_mode="none", remove=True)
    return bytes(out).decode()


def step_outcomes(log: str) -> list[tuple[str, bool]]:
    """(step line, cached?) for every step the classic builder printed."""
    steps: list[tuple[str, bool]] = []
    for line in log.splitlines():
        if line.startswith("Step "):
            steps.append((line, False))
        elif "Using cache" in line and steps:
            steps[-1] = (steps[-1][0], True)
    return steps


def pip_layers(api: Any, image: str) -> list[str]:
    return [h["Id"] for h in api.history(image) if "pip install" in (h.get("CreatedBy") or "")]


def registry_labels(registry: str, name: str, tag: str) -> dict[str, str]:
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    req = urllib.request.Request(f"http://{registry}/v2/{name}/manifests/{tag}",
                                 headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        manifest = json.load(r)
    digest = manifest["config"]["digest"]
    with urllib.request.urlopen(f"http://{registry}/v2/{name}/blobs/{digest}", timeout=30) as r:
        config = json.load(r)
    return dict(config["config"]["Labels"])
