"""`dvbuild run PATH --image REF` against a real Docker engine and registry
(tests/services/docker.py): the pushed image, pinned by digest, makes the production run
and its publish; a failing notebook fails it and publishes nothing; a secret reaches the
notebook and nowhere else; a missing image or engine is one clear line. And the root
action's `all` on a push: test, build --push, the production run of each pushed image,
manifests pinned by digest, and no test output published.

One image (a stdlib-only package, `docker.extras: []`) is built and pushed for the module;
the failing run is the same image given a password its notebook refuses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Repo, Result
from tests.services.docker import DockerServices
from tests.test_action import ROOT, Runner, cached_venv, prime_cache  # noqa: F401
from tests.test_notebooks import notebook

pytestmark = pytest.mark.docker

SECRET = "s3cr3t-Run-Image-7f3a9c"  # strong enough to be masked
RECORD = """\
import hashlib, json, os, sys
password = os.environ["DB_PASSWORD"]
if password.startswith("wrong"):
    raise PermissionError("the source refused the login")
with open(os.path.join(os.environ["DVBUILD_OUTPUT_DIR"], "counts.csv"), "w") as f:
    f.write("n\\n" + "".join(f"{i}\\n" for i in range(rows)))
print(json.dumps({"prefix": sys.prefix, "image": os.environ.get("DVBUILD_IMAGE_REF"),
                  "digest": os.environ.get("DVBUILD_IMAGE_DIGEST"), "home": os.environ["HOME"],
                  "docker_host": "DOCKER_HOST" in os.environ, "plain": os.environ.get("REGION"),
                  "secret_sha256": hashlib.sha256(password.encode()).hexdigest()}))
print("the password is", password)
"""
GITHUB_RUN = {"GITHUB_SERVER_URL": "https://github.example.com", "GITHUB_REPOSITORY": "navikt/team",
              "GITHUB_RUN_ID": "77"}


def write_counts(repo: Repo, rel: str) -> None:
    repo.write_package(rel, "counts", title="Counts", docker={"extras": []}, schedule="0 6 * * *",
                       parameters={"rows": 5}, test_parameters={"rows": 2},
                       secrets={"DB_PASSWORD": "env:RUN_IMAGE_DB"}, job={"env": {"REGION": "oslo"}},
                       resources=[{"name": "counts", "path": "counts.csv", "format": "csv"}])
    repo.write(f"{rel}/main.ipynb", notebook(RECORD, params="rows = 1"))
    repo.write(f"{rel}/requirements.txt", "# stdlib only\n")


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory, docker_services: DockerServices) -> Repo:
    repo = Repo(tmp_path_factory.mktemp("counts-repo"))
    repo.git("init", "-q", "-b", "main")
    repo.write("dvbuild.yaml", f"registry: {docker_services.registry}/runimage\n"
                               f"base_image: {docker_services.base_image}\n"
                               "naisjob: {team: dataplattform}\n")
    write_counts(repo, "packages/counts")
    repo.commit("counts")
    return repo


@pytest.fixture(scope="module")
def pinned(counts: Repo, docker_services: DockerServices) -> str:
    """The package's image, built and pushed: `registry/runimage/counts@sha256:…`."""
    from dvbuild.image.build import build_packages
    from dvbuild.package import load_package
    from dvbuild.settings import load_settings

    settings = load_settings(counts.path, environ={**os.environ, **docker_services.environ})
    built, = build_packages(settings, [load_package(counts.path / "packages/counts", counts.path)],
                            push=True)
    assert built.status == "built" and built.digest, built
    assert built.image is not None
    return f"{built.image.rsplit(':', 1)[0]}@{built.digest}"


def run_image(cli: Callable[..., Result], repo: Repo, services: DockerServices, image: str,
              tmp_path: Path, password: str = SECRET) -> Result:
    return cli("run", repo.path / "packages/counts", "--image", image, "--out", tmp_path / "out",
               "--store", f"file://{tmp_path / 'store'}", "--catalog", f"file://{tmp_path / 'catalog'}",
               env={**services.environ, **GITHUB_RUN, "RUN_IMAGE_DB": password})


def printed(executed: Path) -> list[str]:
    """The stream output lines of an executed notebook."""
    cells = json.loads(executed.read_text())["cells"]
    return [line for c in cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
            for line in "".join(o["text"]).splitlines()]


def recorded(executed: Path) -> dict[str, Any]:
    found = [json.loads(line) for line in printed(executed) if line.startswith("{")]
    assert len(found) == 1, printed(executed)
    return dict(found[0])


def files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.is_file()]


def test_the_pinned_image_makes_the_production_run_and_publishes(
    cli: Callable[..., Result], counts: Repo, pinned: str, docker_services: DockerServices,
    tmp_path: Path,
) -> None:
    import hashlib

    result = run_image(cli, counts, docker_services, pinned, tmp_path)
    assert result.code == 0, result.err
    digest = pinned.split("@")[1]
    store = tmp_path / "store" / "counts"
    latest = json.loads((store / "latest.json").read_text())
    version = store / "versions" / latest["version"]
    manifest = json.loads((version / "_manifest.json").read_text())
    assert manifest["mode"] == "production" and manifest["parameters"] == {"rows": 5}
    assert manifest["image"] == {"ref": pinned, "digest": digest}
    assert manifest["run_url"] == "https://github.example.com/navikt/team/actions/runs/77"
    assert (version / "counts.csv").read_text().splitlines() == ["n", "0", "1", "2", "3", "4"]
    report = json.loads((tmp_path / "out/counts/report.json").read_text())
    assert report["status"] == "passed" and report["image"] == manifest["image"]
    assert report["commit"] == counts.head

    # what only the image has, and only what it was given
    seen = recorded(tmp_path / "out/counts/main.ipynb")
    assert seen["prefix"] == "/opt/dvbuild/venv" and seen["image"] == pinned
    assert seen["digest"] == digest and seen["home"] == "/tmp" and seen["plain"] == "oslo"
    assert seen["docker_host"] is False
    assert seen["secret_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()  # it reached it
    assert "the password is ***" in printed(tmp_path / "out/counts/main.ipynb")
    runs = list((tmp_path / "catalog").rglob("*.json"))
    assert runs and all(f.stat().st_uid == os.getuid() for f in files_under(tmp_path / "store"))

    # and its value nowhere: no file under OUT, the store or the catalog, no output
    for path in files_under(tmp_path / "out", tmp_path / "store", tmp_path / "catalog"):
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.out + result.err
    assert "[counts]" in result.err  # the run's own log, relayed
    assert "[counts] [counts]" not in result.err  # once, not once more by the relay


def test_a_failing_notebook_in_the_image_fails_the_run_and_publishes_nothing(
    cli: Callable[..., Result], counts: Repo, pinned: str, docker_services: DockerServices,
    tmp_path: Path,
) -> None:
    from dvbuild.catalogs import open_catalog

    result = run_image(cli, counts, docker_services, pinned, tmp_path,
                       password="wrong-password-for-the-source")
    assert result.code == 1, result.err
    assert "PermissionError: the source refused the login" in result.err
    report = json.loads((tmp_path / "out/counts/report.json").read_text())
    assert report["status"] == "failed" and report["mode"] == "production"
    assert not (tmp_path / "store" / "counts").exists()
    run, = open_catalog(f"file://{tmp_path / 'catalog'}", {}).runs("counts")
    assert run["status"] == "failed" and "PermissionError" in run["error"]


def test_a_missing_image_or_engine_is_one_clear_line(
    cli: Callable[..., Result], counts: Repo, docker_services: DockerServices, tmp_path: Path,
) -> None:
    missing = f"{docker_services.registry}/runimage/nothing@sha256:{'0' * 64}"
    result = run_image(cli, counts, docker_services, missing, tmp_path)
    assert result.code == 1
    assert f"error: cannot pull {missing}" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "out" / "counts").exists()

    gone = cli("run", counts.path / "packages/counts", "--image", missing,
               env={"DOCKER_HOST": f"unix://{tmp_path / 'no.sock'}"})
    assert gone.code == 1 and "no Docker engine answers" in gone.err
    assert "Traceback" not in gone.err

    bad = cli("run", counts.path / "packages/counts", "--image", "Not An Image")
    assert bad.code == 2 and "--image 'Not An Image' is not an image reference" in bad.err


def test_all_on_a_push_releases_through_the_production_run(
    counts: Repo, pinned: str, docker_services: DockerServices, tmp_path: Path,
    cached_venv: Callable[[Path], None],  # noqa: F811
) -> None:
    """The root action's `all` on a push: test, build --push (the image is in the registry
    already: skipped, same digest), the production run in that image, its manifest."""
    runner = Runner(workspace=counts.path, tmp=tmp_path / "runner", event_name="push")
    runner.extra_env = {**docker_services.environ, "RUN_IMAGE_DB": SECRET}
    prime_cache(runner, ROOT / "action.yml", cached_venv)
    store = tmp_path / "store"
    outcome = runner.run(ROOT / "action.yml", {
        "command": "all", "packages": "packages/counts", "store": f"file://{store}",
        "catalog": f"file://{tmp_path / 'catalog'}",
        "registry": f"{docker_services.registry}/runimage"})
    assert outcome.ok, outcome.log
    reports = Path(outcome.outputs["report-dir"])
    assert json.loads((reports / "counts/report.json").read_text())["parameters"] == {"rows": 2}
    image, = json.loads((reports / "images.json").read_text())
    assert image["pinned"] == pinned

    # published: the production run only (parameters, the pinned image), never the test's
    version, = (store / "counts" / "versions").iterdir()
    manifest = json.loads((version / "_manifest.json").read_text())
    assert manifest["mode"] == "production" and manifest["parameters"] == {"rows": 5}
    assert manifest["image"] == {"ref": pinned, "digest": image["digest"]}
    assert manifest["run_url"].endswith("/actions/runs/4242")
    assert len((version / "counts.csv").read_text().splitlines()) == 1 + 5
    assert recorded(reports / "production/counts/main.ipynb")["prefix"] == "/opt/dvbuild/venv"
    rendered = (reports / "manifests" / "counts.yaml").read_text()
    assert f"image: {pinned}" in rendered
