"""Real GitHub payloads (tests/corpora/github-events) -> what detect compares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dvbuild.detect import events
from dvbuild.errors import ConfigError, UsageError

EVENTS = Path(__file__).parent / "corpora" / "github-events"
A, B = "a" * 40, "b" * 40


def load_event(name: str, **values: Any) -> dict[str, Any]:
    """A corpus payload with fields replaced: `pull_request__head__sha=...`."""
    payload: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    for dotted, value in values.items():
        *parents, last = dotted.split("__")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value
    return payload


def write_event(tmp_path: Path, name: str, **values: Any) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(load_event(name, **values)))
    return path


def test_push_compares_before_and_after() -> None:
    payload = load_event("push.with-new-branch", before=A, after=B, created=False,
                         ref="refs/heads/feature")
    plan = events.plan("push", payload)
    assert (plan.compare, plan.base, plan.head) == ("trees", A, B)


def test_force_push_still_compares_trees_and_says_so() -> None:
    payload = load_event("push.with-new-branch", before=A, after=B, created=False, forced=True)
    plan = events.plan("push", payload)
    assert plan.compare == "trees"
    assert "force push" in plan.notice


def test_push_deleting_a_tag_builds_nothing() -> None:
    plan = events.plan("push", load_event("push"))
    assert plan.compare == "nothing"
    assert plan.notice == "push deleted the tag simple-tag: nothing to build"


def test_push_deleting_a_branch_builds_nothing() -> None:
    plan = events.plan("push", load_event("push", ref="refs/heads/old", before=A))
    assert plan.notice == "push deleted the branch old: nothing to build"


def test_first_push_of_default_branch_is_everything() -> None:
    plan = events.plan("push", load_event("push.with-new-branch", after=B))
    assert plan.compare == "all"
    assert plan.default_branch == "master"


def test_first_push_of_another_branch_uses_the_default_branch() -> None:
    plan = events.plan("push", load_event("push.with-new-branch", after=B, ref="refs/heads/topic"))
    assert (plan.compare, plan.head, plan.default_branch) == ("default-branch", B, "master")


@pytest.mark.parametrize("name", ["pull_request.opened", "pull_request.synchronize"])
def test_pull_request_uses_merge_base(name: str) -> None:
    payload = load_event(name, pull_request__base__sha=A, pull_request__head__sha=B)
    plan = events.plan("pull_request", payload)
    assert (plan.compare, plan.base, plan.head, plan.fork) == ("merge-base", A, B, False)


def test_pull_request_from_a_fork() -> None:
    payload = load_event("pull_request.opened")
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World"
    assert events.plan("pull_request_target", payload).fork is True
    payload["pull_request"]["head"]["repo"] = None  # the fork was deleted
    assert events.plan("pull_request", payload).fork is True


def test_merge_group() -> None:
    payload = load_event("merge_group.checks_requested", merge_group__base_sha=A,
                         merge_group__head_sha=B)
    plan = events.plan("merge_group", payload)
    assert (plan.compare, plan.base, plan.head) == ("merge-base", A, B)


@pytest.mark.parametrize("name", ["workflow_dispatch", "schedule", "release"])
def test_manual_scheduled_and_other_runs_are_everything(name: str) -> None:
    plan = events.plan(name, load_event("workflow_dispatch"))
    assert plan.compare == "all"
    assert plan.notice.startswith(f"{name}: every package")


@pytest.mark.parametrize(("file", "name"), [
    ("push", "push"), ("pull_request.opened", "pull_request"),
    ("merge_group.checks_requested", "merge_group"), ("workflow_dispatch", "workflow_dispatch"),
])
def test_infer_name_from_payload(file: str, name: str) -> None:
    assert events.infer_name(load_event(file)) == name


def test_bad_sha_in_payload_is_bad_input() -> None:
    with pytest.raises(UsageError, match="not a commit sha"):
        events.plan("push", load_event("push.with-new-branch", after="main"))


def test_malformed_event_file(tmp_path: Path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text('{"after": ')
    with pytest.raises(ConfigError) as e:
        events.load(bad)
    assert e.value.problems[0].line == 1
    with pytest.raises(UsageError):
        events.load(tmp_path / "missing.json")
