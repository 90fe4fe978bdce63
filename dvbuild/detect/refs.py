"""Turn flags or a GitHub event into the two commits detect compares, fetching what a
shallow CI clone lacks.

Every fallback widens the selection, never narrows it: when git cannot answer
(no merge base, a commit gone for good) detect selects every package and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dvbuild import gitio
from dvbuild.errors import UsageError
from dvbuild.settings import Settings

if TYPE_CHECKING:
    from dvbuild.detect import events

MAX_DEEPEN = 1024  # after --deepen 16, 32, ... 1024 comes one full fetch


class Range:
    """What to diff. worktree: compare base with the working tree (local runs)."""

    def __init__(self, head: str | None, base: str | None = None, all: bool = False,
                 nothing: bool = False, fork: bool = False, worktree: bool = False,
                 event: str | None = None, notices: list[str] | None = None) -> None:
        self.head = head
        self.base = base
        self.all = all
        self.nothing = nothing
        self.fork = fork
        self.worktree = worktree
        self.event = event
        self.notices: list[str] = [] if notices is None else notices


def resolve(settings: Settings, *, base: str | None = None, head: str | None = None,
            event_path: Path | None = None, event_name: str | None = None,
            all_: bool = False) -> Range:
    cwd = settings.git_root
    if all_ and head is None:  # every package as the working tree has them (a laptop's view)
        return Range(head=gitio.resolve("HEAD", cwd), all=True, worktree=True,
                     notices=["--all: every package"])
    if all_ and head is not None:
        return Range(head=need(head, cwd), all=True, notices=["--all: every package"])
    if base is not None or head is not None:
        return _from_flags(cwd, base, head)
    path = event_path or (Path(settings.github.event_path) if settings.github.event_path else None)
    if path is not None:
        from dvbuild.detect import events

        payload = events.load(path)
        name = event_name or settings.github.event_name or events.infer_name(payload)
        return from_plan(cwd, events.plan(name, payload))
    return _local(cwd)


def _from_flags(cwd: Path, base: str | None, head: str | None) -> Range:
    if base is not None:  # the common case in one git call; need() explains failures
        shas = gitio.resolve_all([base, head or "HEAD"], cwd)
        if shas is not None:
            return Range(head=shas[1], base=shas[0])
    head_sha = need(head or "HEAD", cwd)
    if base is None:
        return _against_default(cwd, head_sha, None, Range(head=head_sha))
    return Range(head=head_sha, base=need(base, cwd))


def _local(cwd: Path) -> Range:
    """No refs, no event: the working tree against where this branch left the default one."""
    head = gitio.resolve("HEAD", cwd)
    if head is None:
        return Range(head=None, all=True, worktree=True,
                     notices=["no commits yet: every package in the working tree"])
    rng = Range(head=head, worktree=True)
    name = gitio.default_branch(cwd)
    ref = gitio.branch_ref(name, cwd) if name else None
    mb = gitio.merge_base(ref, head, cwd) if ref else None
    rng.base = mb or head
    what = f"the merge-base with {name} ({mb[:7]})" if mb else f"HEAD ({head[:7]})"
    rng.notices.append(f"no refs or event given: working tree compared with {what}")
    return rng


def from_plan(cwd: Path, plan: events.Plan) -> Range:
    rng = Range(head=None, fork=plan.fork, event=plan.event)
    if plan.notice:
        rng.notices.append(plan.notice)
    if plan.compare == "nothing":
        rng.head, rng.nothing = gitio.resolve("HEAD", cwd), True
        return rng
    rng.head = need(plan.head or "HEAD", cwd)
    if plan.compare == "all":
        rng.all = True
    elif not gitio.parents(rng.head, cwd) and not gitio.is_shallow(cwd):
        rng.all = True
        rng.notices.append(f"{rng.head[:7]} is the repository's first commit: every package")
    elif plan.compare == "trees":
        _trees(cwd, plan, rng)
    elif plan.compare == "merge-base":
        _merge_base(cwd, plan, rng)
    else:
        _against_default(cwd, rng.head, plan.default_branch, rng)
    return rng


def _trees(cwd: Path, plan: events.Plan, rng: Range) -> None:
    assert plan.base is not None and rng.head is not None
    if _present(plan.base, cwd):
        rng.base = plan.base
        return
    _against_default(cwd, rng.head, plan.default_branch, rng,
                     why=f"the before commit {plan.base[:7]} is gone (force push?)")


def _merge_base(cwd: Path, plan: events.Plan, rng: Range) -> None:
    assert rng.head is not None
    if plan.base is None or not _present(plan.base, cwd):
        _everything(rng, f"base commit {(plan.base or '?')[:7]} not found")
        return
    mb = find_merge_base(cwd, plan.base, rng.head, [plan.base, rng.head])
    if mb is None:
        _everything(rng, f"no merge base of {plan.base[:7]} and {rng.head[:7]}")
    else:
        rng.base = mb
        if mb != plan.base:
            rng.notices.append(f"compared with the merge-base {mb[:7]} of base {plan.base[:7]} "
                               f"and head {rng.head[:7]}: changes on the base branch do not count")


def _against_default(cwd: Path, head: str, name: str | None, rng: Range, why: str = "") -> Range:
    """base := merge-base(head, default branch), fetching the default branch if needed."""
    name = name or gitio.default_branch(cwd)
    ref = gitio.branch_ref(name, cwd) if name else None
    if name and ref is None and gitio.remote_exists(cwd):
        gitio.fetch(cwd, f"+refs/heads/{name}:refs/remotes/origin/{name}", depth=1)
        ref = gitio.branch_ref(name, cwd)
    prefix = f"{why}: " if why else ""
    if ref is None:
        return _everything(rng, f"{prefix}no default branch to compare with")
    spec = f"+refs/heads/{name}:refs/remotes/origin/{name}"
    mb = find_merge_base(cwd, ref, head, [spec, head])
    if mb is None:
        return _everything(rng, f"{prefix}no merge base with {name}")
    rng.base = mb
    rng.notices.append(f"{prefix}compared with the merge-base with {name} ({mb[:7]})")
    return rng


def _everything(rng: Range, why: str) -> Range:
    rng.all, rng.base = True, None
    rng.notices.append(f"{why}: selecting every package to be safe")
    return rng


def find_merge_base(cwd: Path, a: str, b: str, specs: list[str]) -> str | None:
    """merge-base(a, b); in a shallow clone deepen (16, 32, ... commits, then all of
    history) until it exists. `specs` are what to ask the remote for."""
    mb = gitio.merge_base(a, b, cwd)
    if mb or not gitio.is_shallow(cwd) or not gitio.remote_exists(cwd):
        return mb
    deepen = 16
    while deepen <= MAX_DEEPEN and gitio.is_shallow(cwd):
        gitio.fetch(cwd, *specs, deepen=deepen)
        mb = gitio.merge_base(a, b, cwd)
        if mb:
            return mb
        deepen *= 2
    if gitio.is_shallow(cwd):
        gitio.fetch(cwd, *specs, unshallow=True)
    return gitio.merge_base(a, b, cwd)


def _present(sha: str, cwd: Path) -> bool:
    """The commit is here, or fetching it by sha brings it."""
    if gitio.has_commit(sha, cwd):
        return True
    if gitio.remote_exists(cwd) and _looks_like_sha(sha):
        gitio.fetch(cwd, sha, depth=1)
    return gitio.has_commit(sha, cwd)


def need(rev: str, cwd: Path) -> str:
    """The commit sha of rev, fetched by sha if the clone lacks it; else exit 2."""
    sha = gitio.resolve(rev, cwd)
    if sha is None and _looks_like_sha(rev) and _present(rev, cwd):
        sha = gitio.resolve(rev, cwd)
    if sha is None:
        raise UsageError(f"unknown git revision {rev!r}",
                         hint="is it fetched? (actions/checkout fetches one commit by default; "
                              "use fetch-depth: 0 or pass an existing ref)")
    return sha


def _looks_like_sha(rev: str) -> bool:
    return len(rev) in (40, 64) and all(c in "0123456789abcdef" for c in rev)
