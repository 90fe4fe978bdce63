"""zizmor and actionlint report nothing on the actions and workflows, and the
hardening rules hold: pinned actions, no expressions in scripts, least privilege."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
ACTIONS = [ROOT / "action.yml", *sorted((ROOT / "actions").glob("*/action.yml"))]
WORKFLOWS = [
    *sorted((ROOT / ".github" / "workflows").glob("*.yml")),
    *sorted((ROOT / "examples" / "monorepo" / ".github" / "workflows").glob("*.yml")),
    *sorted((ROOT / "templates" / "workflow").glob("*.yml")),
]
PINNED = "ec0ba4cc60bc13181ee521b8f0b62d5d7259efcb"  # the dvbuild sha the workflows pin
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def tool(name: str) -> str:
    """The linter from the test extra (next to this Python), else from PATH; never skipped."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def steps_of(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "runs" in doc:
        yield from doc["runs"].get("steps", [])
    for job in (doc.get("jobs") or {}).values():
        yield from job.get("steps", [])


def test_there_is_something_to_check() -> None:
    assert len(ACTIONS) == 9
    assert {p.parent.name for p in ACTIONS[1:]} == {
        "setup", "detect", "test", "build", "run", "publish", "render", "comment"}
    assert len(WORKFLOWS) >= 5


def test_zizmor_reports_nothing() -> None:
    files = [str(p) for p in ACTIONS + WORKFLOWS]
    proc = subprocess.run([tool("zizmor"), "--offline", "--no-progress", *files],
                          capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "No findings to report" in output, output
    assert "failed to parse" not in output, output  # zizmor only warns about those


def with_shellcheck() -> dict[str, str]:
    """PATH with shellcheck first: actionlint checks run: scripts with it when found."""
    folder = str(Path(tool("shellcheck")).parent)
    return {**os.environ, "PATH": folder + os.pathsep + os.environ.get("PATH", "")}


def test_actionlint_reports_nothing() -> None:
    proc = subprocess.run([tool("actionlint"), "-no-color", *[str(p) for p in WORKFLOWS]],
                          cwd=ROOT, capture_output=True, text=True, check=False,
                          env=with_shellcheck())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_shellcheck_reports_nothing_on_the_action_scripts() -> None:
    scripts = sorted(str(p) for p in (ROOT / "actions").glob("*.sh"))
    assert len(scripts) == 2
    proc = subprocess.run([tool("shellcheck"), *scripts], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_checks_every_action_through_the_ci_workflow() -> None:
    """actionlint reads action metadata only where a workflow uses the action,
    so dvbuild's own CI uses each of them."""
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    used = {s["uses"].split("#")[0].strip() for s in steps_of(ci) if "uses" in s}
    wanted = {"./"} | {f"$/actions/{p.parent.name}" for p in ACTIONS[1:]}
    assert wanted <= used


def test_actionlint_catches_a_wrong_input(tmp_path: Path) -> None:
    bad = (ROOT / ".github" / "workflows" / "ci.yml").read_text().replace(
        "packages: packages/befolkning", "package: packages/befolkning", 1)
    probe = ROOT / ".github" / "workflows" / f"probe-{tmp_path.name}.yml"
    probe.write_text(bad)
    try:
        proc = subprocess.run([tool("actionlint"), "-no-color", str(probe)], cwd=ROOT,
                              capture_output=True, text=True, check=False)
    finally:
        probe.unlink()
    assert proc.returncode == 1
    assert 'input "package" is not defined' in proc.stdout


@pytest.mark.parametrize("path", ACTIONS + WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_hardening(path: Path) -> None:
    doc = load(path)
    for step in steps_of(doc):
        if "run" in step:
            assert "${{" not in step["run"], f"{path}: expression inside a run: script"
        uses = step.get("uses", "")
        if uses and not uses.startswith(("./", "$/")):
            assert SHA_PIN.match(uses), f"{path}: {uses} is not pinned to a full commit sha"
        if uses.startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path
    if "jobs" in doc:
        triggers = doc.get(True) or doc.get("on")  # YAML 1.1 reads `on` as True
        assert "pull_request_target" not in triggers, path
        assert doc.get("permissions") == {}, f"{path}: workflow-wide permissions must be empty"
        if reusable(doc):  # the caller's workflow owns concurrency
            assert list(triggers) == ["workflow_call"], path
        else:
            assert "concurrency" in doc, path
        for name, job in doc["jobs"].items():
            assert "permissions" in job, f"{path}: job {name} has no permissions"
            if "uses" in job:  # a reusable workflow, pinned like an action
                assert SHA_PIN.match(job["uses"]), f"{path}: {job['uses']} is not pinned"


def reusable(doc: dict[str, Any]) -> bool:
    return "workflow_call" in (doc.get(True) or doc.get("on") or {})


def writers(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {name: sorted(k for k, v in job["permissions"].items() if v == "write")
            for name, job in doc["jobs"].items()}


def test_write_permissions_only_where_needed() -> None:
    team = load(ROOT / "templates" / "workflow" / "dvbuild.yml")
    assert writers(team) == {"pull-request": ["pull-requests"], "release": ["id-token"]}
    pr = load(ROOT / ".github" / "workflows" / "dvbuild-pull-request.yml")
    assert writers(pr) == {"detect": [], "test": [], "fork-pr-number": [],
                           "comment": ["pull-requests"]}
    release = load(ROOT / ".github" / "workflows" / "dvbuild-release.yml")
    assert writers(release) == {"detect": [], "release": ["id-token"], "deploy": ["id-token"]}
    # a called workflow gets no more than its caller's job grants: the caller grants the union
    for name, called in (("pull-request", pr), ("release", release)):
        granted = team["jobs"][name]["permissions"]
        for job in called["jobs"].values():
            for scope, level in job["permissions"].items():
                assert level == "read" and scope in granted or granted.get(scope) == level, \
                    (name, scope)


def test_the_team_workflow_calls_the_reusable_ones_at_one_pinned_sha() -> None:
    team = load(ROOT / "templates" / "workflow" / "dvbuild.yml")
    calls = {name: job["uses"] for name, job in team["jobs"].items()}
    assert calls == {
        "pull-request": f"navikt/dvbuild/.github/workflows/dvbuild-pull-request.yml@{PINNED}",
        "release": f"navikt/dvbuild/.github/workflows/dvbuild-release.yml@{PINNED}"}
    for name in ("dvbuild-pull-request.yml", "dvbuild-release.yml"):
        called = load(ROOT / ".github" / "workflows" / name)
        assert reusable(called)
        pins = {s["uses"].split("@")[1] for s in steps_of(called)
                if s.get("uses", "").startswith("navikt/dvbuild/")}
        assert pins == {PINNED}, name  # the actions of the same dvbuild release
    release = load(ROOT / ".github" / "workflows" / "dvbuild-release.yml")
    inputs = set((release.get(True) or release["on"])["workflow_call"]["inputs"])
    assert {"store", "catalog", "registry", "cluster", "python-version", "max-jobs"} <= inputs
    assert "allow-test-output" not in (ROOT / ".github" / "workflows" / "dvbuild-release.yml").read_text()


def test_fork_comments_come_from_workflow_run() -> None:
    fork = load(ROOT / "templates" / "workflow" / "dvbuild-comment.yml")
    triggers = fork.get(True) or fork.get("on")
    assert list(triggers) == ["workflow_run"]
    assert not [s for s in steps_of(fork) if "checkout" in s.get("uses", "")]
    pr = load(ROOT / ".github" / "workflows" / "dvbuild-pull-request.yml")
    assert "head.repo.full_name == github.repository" in pr["jobs"]["comment"]["if"]


def test_example_workflows_are_the_template() -> None:
    for template in (ROOT / "templates" / "workflow").glob("*.yml"):
        example = ROOT / "examples" / "monorepo" / ".github" / "workflows" / template.name
        assert example.read_text() == template.read_text(), example
