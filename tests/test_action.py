"""The composite actions, driven the way the runner drives them: each `run:` step
written to a file and run with `bash --noprofile --norc -eo pipefail`, its `env:`
expressions evaluated, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_PATH as
files, GITHUB_EVENT_PATH a real payload carrying this repo's shas.
`uses:` steps (setup-python, cache) are what the runner would do anyway:
Python is this one, and the cache 'restores' the venv the tests run in."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CORPORA, Repo, Result
from tests.test_github import REPO, TOKEN, GitHubAPI, github_api  # noqa: F401
from tests.test_pipeline import add_csv_package

ROOT = Path(__file__).parent.parent
VENV = Path(sys.executable).parent.parent
PROFILES = {  # what each action installs (install.sh key's DVBUILD_EXTRAS)
    str(step["env"].get("DVBUILD_EXTRAS", "all"))
    for p in [ROOT / "action.yml", *(ROOT / "actions").glob("*/action.yml")]
    for step in yaml.safe_load(p.read_text())["runs"]["steps"]
    if step.get("id") == "key" and "${{" not in str(step["env"].get("DVBUILD_EXTRAS", ""))
} | {"all"}
EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@dataclass
class Runner:
    workspace: Path
    tmp: Path
    event_name: str = "push"
    event: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def run(self, action: Path, inputs: Mapping[str, str] | None = None) -> Outcome:
        meta = yaml.safe_load(action.read_text())
        given: dict[str, str] = {}
        context = {"inputs": given,
                   "github": {"action_path": str(action.parent), "token": TOKEN,
                              "workspace": str(self.workspace)},
                   "runner": {"temp": str(self.tmp / "runner-temp")}}
        for name, spec in (meta.get("inputs") or {}).items():
            given[name] = evaluate(str(spec.get("default", "")), context)
        given.update(inputs or {})
        event_path = self.tmp / "event.json"
        event_path.write_text(json.dumps(self.event))
        outcome = Outcome(summary=self.tmp / "summary.md")
        context["steps"] = outcome.steps
        for i, step in enumerate(meta["runs"]["steps"]):
            if "run" not in step:
                continue  # setup-python and cache: see the module docstring
            outcome.codes.append(self._step(i, step, context, event_path, outcome))
            if outcome.codes[-1] != 0:
                break
        outcome.outputs = {k: evaluate(v["value"], context)
                           for k, v in (meta.get("outputs") or {}).items()}
        return outcome

    def _step(self, i: int, step: dict[str, Any], context: dict[str, Any], event_path: Path,
              outcome: Outcome) -> int:
        files = {name: self.tmp / f"step{i}.{name}" for name in ("output", "path", "script")}
        for f in files.values():
            f.write_text("")
        files["script"].write_text(step["run"])
        (self.tmp / "runner-temp").mkdir(exist_ok=True)
        env = {
            "PATH": os.environ["PATH"], "HOME": str(self.tmp), "CI": "true",
            "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": self.event_name, "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_OUTPUT": str(files["output"]), "GITHUB_PATH": str(files["path"]),
            "GITHUB_STEP_SUMMARY": str(outcome.summary), "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": "4242", "RUNNER_TEMP": str(self.tmp / "runner-temp"),
            "RUNNER_TOOL_CACHE": str(self.tmp / "toolcache"), "RUNNER_OS": "Linux",
            **{k: v for k, v in os.environ.items() if k.startswith(("GIT_", "PIP_"))},
            **self.extra_env,
            **{k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()},
        }
        cwd = self.workspace / evaluate(str(step.get("working-directory", ".")), context)
        started = time.monotonic()
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                               str(files["script"])], cwd=cwd, env=env,
                              capture_output=True, text=True, check=False)
        outcome.log += f"--- step {i} ({time.monotonic() - started:.1f}s)\n" + proc.stdout + proc.stderr
        outcome.steps[step.get("id", f"step{i}")] = {"outputs": parse_outputs(files["output"])}
        outcome.paths += files["path"].read_text().split()
        return proc.returncode


@dataclass
class Outcome:
    summary: Path
    steps: dict[str, Any] = field(default_factory=dict)
    codes: list[int] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def ok(self) -> bool:
        return all(c == 0 for c in self.codes)


def evaluate(text: str, context: Mapping[str, Any]) -> str:
    """${{ a.b.c }} lookups, the only expressions the actions use."""
    def lookup(m: re.Match[str]) -> str:
        value: Any = context
        for part in m[1].split("."):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return str(value)

    return EXPR.sub(lookup, text)


def parse_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's two forms: name=value and name<<DELIMITER ... DELIMITER."""
    out: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for more in lines:
                if more == delimiter:
                    break
                body.append(more)
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


@pytest.fixture
def cached_venv(tmp_path: Path) -> Callable[[Path], None]:
    """Make actions/cache's restore: the venv at the path install.sh's key names."""
    def restore(outputs_file: Path) -> None:
        venv = Path(parse_outputs(outputs_file)["venv"])
        venv.parent.mkdir(parents=True, exist_ok=True)
        if not venv.exists():
            venv.symlink_to(VENV)
    return restore


def monorepo(make_repo: Callable[..., Repo]) -> tuple[Repo, str]:
    """A git repo whose monorepo is the subfolder team/, with a change to one package."""
    repo = make_repo()
    repo.write("README.md", "not a package\n")
    repo.write("team/dvbuild.yaml", "ignore: ['**/*.md']\n")
    add_csv_package(repo, "one", rows=2, under="team/packages")
    add_csv_package(repo, "two", rows=3, under="team/packages")
    base = repo.commit("two packages")
    repo.write("team/packages/two/main.ipynb",
               (repo.path / "team/packages/two/main.ipynb").read_text().replace("v0", "w0"))
    repo.commit("change two")
    return repo, base


def pr_event(base: str, head: str) -> dict[str, Any]:
    event = json.loads((CORPORA / "github-events" / "pull_request.synchronize.json").read_text())
    event["pull_request"]["base"]["sha"] = base
    event["pull_request"]["head"]["sha"] = head
    event["before"], event["after"] = base, head
    return dict(event)


def runner_for(repo: Repo, tmp_path: Path, event_name: str, event: dict[str, Any]) -> Runner:
    return Runner(workspace=repo.path, tmp=tmp_path / "runner", event_name=event_name,
                  event=event)


def prime_cache(runner: Runner, action: Path, restore: Callable[[Path], None]) -> None:
    """Run the action's `key` step once and restore the venv where it points."""
    runner.tmp.mkdir(parents=True, exist_ok=True)
    out = runner.tmp / "key.out"
    out.write_text("")
    for extras in PROFILES:  # each action installs its own extras
        out.write_text("")
        env = {**os.environ, "DVBUILD_ACTION_ROOT": str(ROOT), "GITHUB_OUTPUT": str(out),
               "RUNNER_TOOL_CACHE": str(runner.tmp / "toolcache"), "RUNNER_OS": "Linux",
               "DVBUILD_EXTRAS": extras}
        env.pop("DVBUILD_INSTALLED", None)
        subprocess.run(["bash", str(ROOT / "actions" / "install.sh"), "key"], env=env, check=True)
        restore(out)


def test_detect_on_a_pull_request(make_repo: Callable[..., Repo], tmp_path: Path,
                                  cached_venv: Callable[[Path], None]) -> None:
    repo, base = monorepo(make_repo)
    runner = runner_for(repo, tmp_path, "pull_request", pr_event(base, repo.head))
    prime_cache(runner, ROOT / "action.yml", cached_venv)
    outcome = runner.run(ROOT / "action.yml", {"command": "detect", "working-directory": "team"})
    assert outcome.ok, outcome.log
    assert outcome.outputs["any"] == "true"
    matrix = json.loads(outcome.outputs["matrix"])
    assert matrix == {"include": [{"name": "two", "path": "packages/two",
                                   "packages": ["packages/two"]}]}
    assert outcome.outputs["report-dir"].endswith("dvbuild-report")
    assert any(p.endswith("/bin") for p in outcome.paths)  # install.sh put dvbuild on PATH


def test_step_actions_test_publish_render_comment(
    make_repo: Callable[..., Repo], tmp_path: Path, cached_venv: Callable[[Path], None],
    github_api: GitHubAPI,  # noqa: F811
) -> None:
    repo, base = monorepo(make_repo)
    runner = runner_for(repo, tmp_path, "pull_request", pr_event(base, repo.head))
    runner.extra_env = {"GITHUB_API_URL": github_api.url}
    prime_cache(runner, ROOT / "action.yml", cached_venv)
    actions = ROOT / "actions"

    tested = runner.run(actions / "test" / "action.yml",
                        {"packages": "packages/two", "working-directory": "team"})
    assert tested.ok, tested.log
    reports = Path(tested.outputs["report-dir"])
    report = json.loads((reports / "two" / "report.json").read_text())
    assert report["status"] == "passed"
    assert "| w00 |" in (reports / "comment.md").read_text()  # the preview, beside the reports
    assert "`two`" in tested.summary.read_text()  # and the job summary

    store = tmp_path / "store"
    inputs = {"report-dir": str(reports), "store": f"file://{store}", "working-directory": "team"}
    refused = runner.run(actions / "publish" / "action.yml", inputs)
    assert refused.codes[-1] == 2 and "--allow-test-output" in refused.log  # a test run's output
    assert not store.exists()
    published = runner.run(actions / "publish" / "action.yml",
                           {**inputs, "allow-test-output": "true"})
    assert published.ok, published.log
    assert (store / "two" / "latest.json").is_file()

    rendered = runner.run(actions / "render" / "action.yml", {
        "report-dir": str(reports), "working-directory": "team"})
    assert rendered.ok, rendered.log

    commented = runner.run(actions / "comment" / "action.yml", {
        "report-dir": str(reports), "store": f"file://{store}", "working-directory": "team"})
    assert commented.ok, commented.log
    body = github_api.comments[pr_event(base, repo.head)["number"]][0]["body"]
    assert repo.head[:7] in body and "`two`" in body
    assert "`two`" in commented.summary.read_text()


def test_unknown_command_fails_with_an_annotation(
    make_repo: Callable[..., Repo], tmp_path: Path, cached_venv: Callable[[Path], None]
) -> None:
    repo, base = monorepo(make_repo)
    runner = runner_for(repo, tmp_path, "pull_request", pr_event(base, repo.head))
    prime_cache(runner, ROOT / "action.yml", cached_venv)
    outcome = runner.run(ROOT / "action.yml", {"command": "deploy-everything"})
    assert outcome.codes[-1] == 2
    assert "::error::unknown dvbuild command" in outcome.log


def test_all_with_nothing_changed(make_repo: Callable[..., Repo], tmp_path: Path,
                                  cached_venv: Callable[[Path], None]) -> None:
    repo, _ = monorepo(make_repo)
    runner = runner_for(repo, tmp_path, "pull_request", pr_event(repo.head, repo.head))
    prime_cache(runner, ROOT / "action.yml", cached_venv)
    outcome = runner.run(ROOT / "action.yml", {"command": "all", "working-directory": "team"})
    assert outcome.ok, outcome.log
    assert outcome.outputs["any"] == "false"
    assert "no package changed" in outcome.log


def test_cache_key_follows_the_action_version(tmp_path: Path) -> None:
    def key(root: Path) -> str:
        out = tmp_path / "out"
        out.write_text("")
        env = {**os.environ, "DVBUILD_ACTION_ROOT": str(root), "GITHUB_OUTPUT": str(out)}
        subprocess.run(["bash", str(ROOT / "actions" / "install.sh"), "key"], env=env, check=True)
        return parse_outputs(out)["key"]

    copy = tmp_path / "action"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    for part in ("dvbuild", "templates"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    first = key(copy)
    assert first == key(copy)
    (copy / "dvbuild" / "report.py").write_text("# changed\n")
    assert key(copy) != first


def same_repo_pr(repo: Repo, base: str, tmp_path: Path, github_api: GitHubAPI,  # noqa: F811
                 cached_venv: Callable[[Path], None]) -> tuple[Runner, dict[str, Any]]:
    """The root action's runner for a pull request from the same repository (not a fork),
    commenting through the GitHub API stand-in."""
    event = pr_event(base, repo.head)
    event["pull_request"]["head"]["repo"]["full_name"] = REPO  # not a fork
    runner = runner_for(repo, tmp_path, "pull_request", event)
    runner.extra_env = {"GITHUB_API_URL": github_api.url}
    prime_cache(runner, ROOT / "action.yml", cached_venv)
    return runner, event


def test_all_on_a_pull_request_tests_and_comments(
    make_repo: Callable[..., Repo], tmp_path: Path, cached_venv: Callable[[Path], None],
    github_api: GitHubAPI,  # noqa: F811
) -> None:
    repo, base = monorepo(make_repo)
    runner, event = same_repo_pr(repo, base, tmp_path, github_api, cached_venv)
    outcome = runner.run(ROOT / "action.yml", {"command": "all", "working-directory": "team"})
    assert outcome.ok, outcome.log
    assert json.loads(outcome.outputs["matrix"])["include"][0]["name"] == "two"
    body = github_api.comments[event["number"]][0]["body"]
    assert "| w00 |" in body  # the preview of the changed package
    assert not (Path(outcome.outputs["report-dir"]) / "manifests").exists()  # no release on a PR

    event["pull_request"]["head"]["repo"]["full_name"] = "someone/fork"
    fork = runner_for(repo, tmp_path / "fork", "pull_request", event)
    fork.extra_env = {"GITHUB_API_URL": github_api.url}
    prime_cache(fork, ROOT / "action.yml", cached_venv)
    outcome = fork.run(ROOT / "action.yml", {"command": "all", "working-directory": "team"})
    assert outcome.ok, outcome.log
    assert "dvbuild-comment.yml posts it" in outcome.log
    assert len(github_api.comments[event["number"]]) == 1


HOSTILE_FOLDERS = {  # package name -> its folder below team/packages: all legal file names
    "spaces": "team data, more",
    "quotes": "it's \"quoted\"",
    "subst": "$(touch pwned-subst)",
    "ticks": "`touch pwned-ticks`",
    "newline": "new\n::error title=X::Y\nline",
    "dash": "--tag=registry.example--other",
}


def hostile_monorepo(make_repo: Callable[..., Repo]) -> tuple[Repo, str]:
    """The monorepo under team/, with a change in every package of a hostile folder name."""
    from tests.test_pipeline import csv_notebook

    repo = make_repo()
    repo.write("team/dvbuild.yaml", "ignore: ['**/*.md']\n")
    base = repo.commit("empty monorepo")
    for name, folder in HOSTILE_FOLDERS.items():
        repo.write_package(f"team/packages/{folder}", name=name, resources=[
            {"name": "tall", "path": "tall.csv", "format": "csv"}])
        repo.write(f"team/packages/{folder}/main.ipynb", csv_notebook(2))
    repo.commit("hostile folder names")
    return repo, base


def assert_no_injection(outcome: Outcome, repo: Repo, tmp_path: Path) -> None:
    assert not [p for root in (repo.path, tmp_path) for p in root.rglob("pwned*")]
    for line in re.split(r"\r\n|\r|\n", outcome.log):
        if line.lstrip().startswith("::") and line != f"::add-mask::{TOKEN}":  # dvbuild's own
            assert re.match(r"::((notice|warning|error)( file=[^:,]*(,line=\d+)?)?|"
                            r"(end)?group)::", line), line


def test_hostile_folder_names_end_to_end(
    make_repo: Callable[..., Repo], tmp_path: Path, cached_venv: Callable[[Path], None],
    github_api: GitHubAPI,  # noqa: F811
) -> None:
    repo, base = hostile_monorepo(make_repo)
    runner, event = same_repo_pr(repo, base, tmp_path, github_api, cached_venv)

    # all: detect -> test -> comment, every path handed on NUL-separated, after `--`
    outcome = runner.run(ROOT / "action.yml", {"command": "all", "working-directory": "team"})
    assert outcome.ok, outcome.log
    matrix = json.loads(outcome.outputs["matrix"])["include"]
    assert sorted(m["path"] for m in matrix) == sorted(
        f"packages/{f}" for f in HOSTILE_FOLDERS.values())
    reports = Path(outcome.outputs["report-dir"])
    assert {p.parent.name for p in reports.glob("*/report.json")} == set(HOSTILE_FOLDERS)
    assert all(json.loads(p.read_text())["status"] == "passed"
               for p in reports.glob("*/report.json"))
    body = github_api.comments[event["number"]][0]["body"]
    assert "`packages/team data, more`" in body and "`packages/$(touch pwned-subst)`" in body
    assert_no_injection(outcome, repo, tmp_path)

    # the test action, given the matrix's paths: one per line, or JSON (toJSON(matrix.path))
    for packages in ("packages/team data, more\npackages/it's \"quoted\"\n",
                     json.dumps("packages/new\n::error title=X::Y\nline"),
                     json.dumps(["packages/`touch pwned-ticks`", "packages/--tag=registry.example--other"])):
        tested = runner.run(ROOT / "actions" / "test" / "action.yml",
                            {"packages": packages, "working-directory": "team"})
        assert tested.ok, tested.log
        assert_no_injection(tested, repo, tmp_path)

    # a list that smuggles options is one (missing) folder, never `--tag`
    smuggled = runner.run(ROOT / "actions" / "test" / "action.yml", {
        "packages": "packages/spaces --tag registry.example/other/app:latest",
        "working-directory": "team"})
    assert smuggled.codes[-1] == 2
    assert "packages/spaces --tag registry.example/other/app:latest: not a package folder" \
        in smuggled.log
    broken = runner.run(ROOT / "actions" / "test" / "action.yml",
                        {"packages": "[\"unterminated", "working-directory": "team"})
    assert broken.codes[-1] == 2 and "::error::packages input: not JSON" in broken.log


def test_commands_take_paths_after_double_dash(make_repo: Callable[..., Repo], tmp_path: Path,
                                               cli: Callable[..., Result]) -> None:
    """run.sh puts `--` before every path: a folder named like an option stays a path."""
    repo = make_repo()
    repo.write_package("-x --push y", name="dashy")
    repo.commit()
    built = cli("build", "--dry-run", "--", "-x --push y", cwd=repo.path)
    assert built.code == 0 and "# dashy (-x --push y)" in built.out, built.err
    rendered = cli("render", "--out", tmp_path / "m", "--", "-x --push y", cwd=repo.path)
    assert rendered.code == 0, rendered.err
    checked = cli("validate", "--", "-x --push y", cwd=repo.path)
    assert "-x --push y/datapackage.json" in checked.out + checked.err
