"""A GitHub event payload -> what to compare (pure: no git here; `refs.py` resolves it).

| event                              | compare                                          |
|------------------------------------|--------------------------------------------------|
| push, `after` all zeros            | nothing: the push deleted a branch or tag        |
| push, `before` all zeros           | default branch: everything; another ref: its     |
|                                    | merge-base with the default branch               |
| push (also a force push)           | the trees of `before` and `after` (two-dot)      |
| pull_request, pull_request_target  | merge-base(base.sha, head.sha) .. head.sha       |
| merge_group                        | merge-base(base_sha, head_sha) .. head_sha       |
| workflow_dispatch, schedule, other | everything                                       |
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

from dvbuild.errors import UsageError
from dvbuild.util import read_json_object

ZERO_SHA = "0" * 40
Compare = Literal["trees", "merge-base", "default-branch", "all", "nothing"]
EVERYTHING_EVENTS = ("workflow_dispatch", "schedule", "repository_dispatch", "workflow_call")


class Plan(NamedTuple):
    """What an event asks detect to compare; shas are not checked against git yet."""

    event: str
    compare: Compare
    head: str | None = None  # None: whatever is checked out (HEAD)
    base: str | None = None
    fork: bool = False
    default_branch: str | None = None
    ref: str | None = None
    notice: str = ""


def load(path: Path) -> dict[str, Any]:
    """Read an event payload; an unreadable (UsageError) or malformed (ConfigError, with
    line and column) file is bad input (exit 2)."""
    return read_json_object(path, what="a GitHub event payload (a JSON object)", argument=True)


def infer_name(payload: Mapping[str, Any]) -> str:
    """The event name when $GITHUB_EVENT_NAME is not set, from the payload's shape."""
    if "pull_request" in payload:
        return "pull_request"
    if "merge_group" in payload:
        return "merge_group"
    if "before" in payload and "after" in payload:
        return "push"
    if "schedule" in payload:
        return "schedule"
    return "workflow_dispatch"


def plan(name: str, payload: Mapping[str, Any]) -> Plan:
    default = _str(_get(payload, "repository", "default_branch"))
    if name == "push":
        return _push(payload, default)
    if name in ("pull_request", "pull_request_target"):
        return _pull_request(name, payload, default)
    if name == "merge_group":
        group = _get(payload, "merge_group") or {}
        return Plan(name, "merge-base", head=_sha(group, "head_sha"), base=_sha(group, "base_sha"),
                    default_branch=default, ref=_str(group.get("head_ref")))
    why = "every package" if name in EVERYTHING_EVENTS else "every package (an event detect does not compare)"
    return Plan(name, "all", default_branch=default, ref=_str(payload.get("ref")),
                notice=f"{name}: {why}")


def _push(payload: Mapping[str, Any], default: str | None) -> Plan:
    before, after = _sha(payload, "before"), _sha(payload, "after")
    ref = _str(payload.get("ref")) or ""
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    if after is None or after == ZERO_SHA:
        return Plan("push", "nothing", base=before, ref=ref, default_branch=default,
                    notice=f"push deleted the {kind} {short}: nothing to build")
    if before is None or before == ZERO_SHA:
        if kind == "branch" and default and short == default:
            return Plan("push", "all", head=after, ref=ref, default_branch=default,
                        notice=f"first push of the default branch {short}: every package")
        return Plan("push", "default-branch", head=after, ref=ref, default_branch=default,
                    notice=f"first push of the {kind} {short}: compared with its merge-base "
                           f"with the default branch")
    forced = " (a force push: the trees are compared, so dropped changes count too)" \
        if payload.get("forced") else ""
    return Plan("push", "trees", head=after, base=before, ref=ref, default_branch=default,
                notice=f"push to {short}{forced}" if forced else "")


def _pull_request(name: str, payload: Mapping[str, Any], default: str | None) -> Plan:
    pr = _get(payload, "pull_request") or {}
    base, head = pr.get("base") or {}, pr.get("head") or {}
    return Plan(name, "merge-base", head=_sha(head, "sha"), base=_sha(base, "sha"),
                fork=is_fork(pr), default_branch=default or _str(base.get("ref")),
                ref=_str(head.get("ref")))


def is_fork(pr: Mapping[str, Any]) -> bool:
    """A PR whose head lives in another repository (or in a deleted one)."""
    head_repo = (pr.get("head") or {}).get("repo")
    base_repo = (pr.get("base") or {}).get("repo") or {}
    if not isinstance(head_repo, Mapping):
        return True
    return bool(head_repo.get("full_name") != base_repo.get("full_name"))


def _get(payload: Mapping[str, Any], *keys: str) -> Any:
    value: Any = payload
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _sha(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) not in (40, 64) or \
            any(c not in "0123456789abcdef" for c in value):
        raise UsageError(f"event payload: {key} is {value!r}, not a commit sha")
    return value
