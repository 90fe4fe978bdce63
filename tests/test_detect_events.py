"""detect driven by real GitHub event payloads over real git histories, shallow clones
from a local bare remote included."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Repo, Result, git
from tests.test_events import write_event

ZERO = "0" * 40
GONE = "1234567890abcdef1234567890abcdef12345678"


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    r = make_repo(commit=False)
    for name in ("a", "b", "c"):
        r.write_package(f"packages/{name}")
        r.write(f"packages/{name}/main.ipynb", "{}\n")
    r.commit("initial")
    return r


def run(cli: Callable[..., Result], repo: Path, event: Path, name: str | None = None,
        env: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    args: list[str | Path] = ["detect", "--repo", repo, "--json", "--event", event]
    if name:
        args += ["--event-name", name]
    result = cli(*args, env=env)
    assert result.code == 0, result.err
    return result.json(), result.err


def names(doc: dict[str, Any]) -> list[str]:
    return [p["name"] for p in doc["packages"]]


def change(repo: Repo, *packages: str, message: str = "change") -> str:
    for p in packages:
        repo.write(f"packages/{p}/main.ipynb", f'{{"changed": "{message}"}}\n')
    return repo.commit(message)


def push(tmp_path: Path, before: str, after: str, ref: str = "refs/heads/main", **extra: Any) -> Path:
    return write_event(tmp_path, "push.with-new-branch", before=before, after=after, ref=ref,
                       created=before == ZERO, repository__default_branch="main", **extra)


def test_push(cli: Callable[..., Result], repo: Repo, tmp_path: Path) -> None:
    before = repo.head
    after = change(repo, "a")
    doc, _ = run(cli, repo.path, push(tmp_path, before, after), "push")
    assert (doc["base"], doc["head"], names(doc)) == (before, after, ["a"])


def test_event_from_the_github_environment(cli: Callable[..., Result], repo: Repo,
                                           tmp_path: Path) -> None:
    before = repo.head
    after = change(repo, "b")
    event = push(tmp_path, before, after)
    result = cli("detect", "--repo", repo.path, "--json",
                 env={"GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "push"})
    assert result.code == 0, result.err
    assert names(result.json()) == ["b"]


def test_first_push_of_the_default_branch(cli: Callable[..., Result], repo: Repo,
                                          tmp_path: Path) -> None:
    change(repo, "a")
    doc, err = run(cli, repo.path, push(tmp_path, ZERO, repo.head), "push")
    assert doc["all"] is True and doc["base"] is None
    assert names(doc) == ["a", "b", "c"]
    assert "first push of the default branch main" in err


def test_first_push_of_another_branch_uses_merge_base(cli: Callable[..., Result], repo: Repo,
                                                      tmp_path: Path) -> None:
    fork_point = repo.head
    repo.git("checkout", "-q", "-b", "topic")
    change(repo, "a", message="one")
    after = change(repo, "b", message="two")  # two commits: a superset of the last one
    doc, err = run(cli, repo.path, push(tmp_path, ZERO, after, "refs/heads/topic"), "push")
    assert doc["base"] == fork_point
    assert names(doc) == ["a", "b"] and doc["all"] is False
    assert "merge-base with main" in err


def test_first_push_of_a_repositorys_first_commit(cli: Callable[..., Result], repo: Repo,
                                                  tmp_path: Path) -> None:
    root = repo.git("rev-list", "--max-parents=0", "HEAD")
    doc, err = run(cli, repo.path, push(tmp_path, ZERO, root, "refs/heads/topic"), "push")
    assert doc["all"] is True and names(doc) == ["a", "b", "c"]
    assert "first commit" in err


def test_force_push_that_drops_a_change(cli: Callable[..., Result], repo: Repo,
                                        tmp_path: Path) -> None:
    start = repo.head
    dropped = change(repo, "a", message="to be dropped")
    repo.git("reset", "-q", "--hard", start)
    after = change(repo, "b", message="replacement")
    event = push(tmp_path, dropped, after, forced=True)
    doc, err = run(cli, repo.path, event, "push")
    # a's change is gone from the branch: a must be rebuilt too (HEAD^ would miss it)
    assert names(doc) == ["a", "b"]
    assert "force push" in err


def test_before_commit_gone_falls_back_to_merge_base(cli: Callable[..., Result], repo: Repo,
                                                     tmp_path: Path) -> None:
    fork_point = repo.head
    repo.git("checkout", "-q", "-b", "topic")
    after = change(repo, "c")
    doc, err = run(cli, repo.path, push(tmp_path, GONE, after, "refs/heads/topic"), "push")
    assert doc["base"] == fork_point and names(doc) == ["c"]
    assert "before commit 1234567 is gone" in err
    assert "merge-base with main" in err


def test_merge_commit_on_push(cli: Callable[..., Result], repo: Repo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    change(repo, "a", message="feature work")
    repo.git("checkout", "-q", "main")
    before = change(repo, "b", message="main work")
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    doc, _ = run(cli, repo.path, push(tmp_path, before, repo.head), "push")
    assert names(doc) == ["a"]


def test_push_that_deletes_a_branch_builds_nothing(cli: Callable[..., Result], repo: Repo,
                                                   tmp_path: Path) -> None:
    event = write_event(tmp_path, "push", before=repo.head, ref="refs/heads/old-topic")
    doc, err = run(cli, repo.path, event)  # the name is inferred from the payload
    assert doc["packages"] == [] and doc["base"] is None
    assert "push deleted the branch old-topic: nothing to build" in err


def test_push_that_deletes_a_tag_says_so_in_text(cli: Callable[..., Result], repo: Repo,
                                                 tmp_path: Path) -> None:
    event = write_event(tmp_path, "push")
    result = cli("detect", "--repo", repo.path, "--event", event, "--event-name", "push")
    assert result.code == 0
    assert "no packages to build" in result.out
    assert "push deleted the tag simple-tag: nothing to build" in result.err


def pr_event(tmp_path: Path, base: str, head: str, name: str = "pull_request.synchronize") -> Path:
    return write_event(tmp_path, name, pull_request__base__sha=base,
                       pull_request__head__sha=head, repository__default_branch="main")


def test_pull_request_whose_base_moved_on(cli: Callable[..., Result], repo: Repo,
                                          tmp_path: Path) -> None:
    fork_point = repo.head
    repo.git("checkout", "-q", "-b", "changes")
    head = change(repo, "a", message="pr work")
    repo.git("checkout", "-q", "main")
    base = change(repo, "b", message="main moved on")
    doc, err = run(cli, repo.path, pr_event(tmp_path, base, head), "pull_request")
    assert (doc["base"], doc["head"]) == (fork_point, head)
    assert names(doc) == ["a"]  # b changed on main only
    assert doc["fork"] is False
    assert "merge-base" in err


def test_pull_request_from_a_fork(cli: Callable[..., Result], repo: Repo, tmp_path: Path) -> None:
    base = repo.head
    head = change(repo, "c")
    event = pr_event(tmp_path, base, head, "pull_request.opened")
    payload = json.loads(event.read_text())
    payload["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
    event.write_text(json.dumps(payload))
    doc, _ = run(cli, repo.path, event, "pull_request_target")
    assert doc["fork"] is True and names(doc) == ["c"]


def test_merge_group(cli: Callable[..., Result], repo: Repo, tmp_path: Path) -> None:
    base = repo.head
    head = change(repo, "b")
    event = write_event(tmp_path, "merge_group.checks_requested", merge_group__base_sha=base,
                        merge_group__head_sha=head)
    doc, _ = run(cli, repo.path, event, "merge_group")
    assert names(doc) == ["b"]


def test_workflow_dispatch_is_everything(cli: Callable[..., Result], repo: Repo,
                                         tmp_path: Path) -> None:
    event = write_event(tmp_path, "workflow_dispatch")
    doc, _ = run(cli, repo.path, event, "workflow_dispatch")
    assert doc["all"] is True and doc["base"] is None
    assert names(doc) == ["a", "b", "c"]
    assert doc["packages"][0]["reasons"] == ["workflow_dispatch: every package"]


# --- shallow clones (actions/checkout's default is fetch-depth: 1) -------------------

@pytest.fixture
def remote(repo: Repo, tmp_path: Path) -> dict[str, str]:
    """A bare remote: main with a long history, and a PR branch forked from deep in it."""
    for i in range(40):
        change(repo, "c", message=f"main {i}")
    fork_point = repo.git("rev-parse", "HEAD~30")
    repo.git("checkout", "-q", "-b", "changes", fork_point)
    change(repo, "a", message="pr 1")
    pr_head = change(repo, "a", message="pr 2")
    repo.git("checkout", "-q", "main")
    git(tmp_path, "clone", "-q", "--bare", str(repo.path), "remote.git")
    return {"fork_point": fork_point, "pr_head": pr_head, "main": repo.head,
            "url": (tmp_path / "remote.git").as_uri()}


def shallow_clone(tmp_path: Path, url: str, branch: str) -> Path:
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", branch, url, "clone")
    clone = tmp_path / "clone"
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    return clone


def test_shallow_clone_pull_request_deepens_until_merge_base(
        cli: Callable[..., Result], remote: dict[str, str], tmp_path: Path) -> None:
    clone = shallow_clone(tmp_path, remote["url"], "changes")
    event = pr_event(tmp_path, remote["main"], remote["pr_head"])
    doc, _ = run(cli, clone, event, "pull_request")
    assert doc["base"] == remote["fork_point"]
    assert names(doc) == ["a"]  # not c, which only main changed


def test_shallow_clone_push_fetches_the_missing_before(
        cli: Callable[..., Result], remote: dict[str, str], tmp_path: Path) -> None:
    clone = shallow_clone(tmp_path, remote["url"], "changes")
    before = git(Path(remote["url"].removeprefix("file://")), "rev-parse", "changes~1")
    event = push(tmp_path, before, remote["pr_head"], "refs/heads/changes")
    doc, _ = run(cli, clone, event, "push")
    assert doc["base"] == before and names(doc) == ["a"]


def test_shallow_clone_new_branch_finds_merge_base_with_default(
        cli: Callable[..., Result], remote: dict[str, str], tmp_path: Path) -> None:
    clone = shallow_clone(tmp_path, remote["url"], "changes")
    event = push(tmp_path, ZERO, remote["pr_head"], "refs/heads/changes")
    doc, _ = run(cli, clone, event, "push")
    assert doc["base"] == remote["fork_point"] and names(doc) == ["a"]


def test_no_merge_base_selects_everything_loudly(cli: Callable[..., Result], repo: Repo,
                                                 tmp_path: Path) -> None:
    repo.git("checkout", "-q", "--orphan", "unrelated")
    repo.commit("unrelated history")
    unrelated = change(repo, "a", message="more unrelated history")
    repo.git("checkout", "-q", "-f", "main")
    event = pr_event(tmp_path, repo.head, unrelated)
    doc, err = run(cli, repo.path, event, "pull_request")
    assert doc["all"] is True and doc["base"] is None
    assert names(doc) == ["a", "b", "c"]
    assert "no merge base" in err and "selecting every package" in err


def test_pull_request_checkout_like_actions_checkout(
        cli: Callable[..., Result], remote: dict[str, str], tmp_path: Path) -> None:
    """actions/checkout on a PR fetches only refs/pull/N/merge, depth 1: neither the
    base nor the head commit is in the clone."""
    bare = Path(remote["url"].removeprefix("file://"))
    work = tmp_path / "merge-work"
    git(tmp_path, "clone", "-q", str(bare), str(work))
    git(work, "checkout", "-q", "-b", "merge", "origin/main")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge pr", "origin/changes")
    git(work, "push", "-q", "origin", "HEAD:refs/pull/1/merge")
    clone = tmp_path / "checkout"
    clone.mkdir()
    git(clone, "init", "-q")
    git(clone, "remote", "add", "origin", remote["url"])
    git(clone, "fetch", "-q", "--no-tags", "--depth=1", "origin",
        "+refs/pull/1/merge:refs/remotes/pull/1/merge")
    git(clone, "checkout", "-q", "--detach", "refs/remotes/pull/1/merge")
    event = pr_event(tmp_path, remote["main"], remote["pr_head"], "pull_request.opened")
    out = tmp_path / "output"
    out.write_text("")
    result = cli("detect", "--repo", clone, "--json",
                 env={"GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "pull_request",
                      "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out)})
    assert result.code == 0, result.err
    doc = result.json()
    assert (doc["base"], doc["head"]) == (remote["fork_point"], remote["pr_head"])
    assert names(doc) == ["a"]
    assert "any<<" in out.read_text()


def test_nothing_to_build_writes_any_false(cli: Callable[..., Result], repo: Repo,
                                           tmp_path: Path) -> None:
    event = write_event(tmp_path, "push", before=repo.head, ref="refs/heads/gone")
    out = tmp_path / "output"
    result = cli("detect", "--repo", repo.path, "--event", event,
                 env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out)})
    assert result.code == 0, result.err
    text = out.read_text()
    assert "packages<<" in text and "\n[]\n" in text
    assert text.count("ghadelimiter_") == 2 * 8  # every output opened and closed
    assert "\nfalse\n" in text
