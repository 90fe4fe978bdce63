"""Which pull request to comment on, and which commit the reports are about.

The commit is the event's head commit, never GitHub's merge commit. A fork's
pull request is commented on from a `workflow_run`, whose event may not name
the PR: its number then comes from `pull-request.json` beside the reports,
which the fork wrote, so it is checked against the API before posting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvbuild.errors import ConfigError, Problem
from dvbuild.settings import GitHubContext

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
PR_FILE = "pull-request.json"  # {"number": N}: written beside fork reports for workflow_run


@dataclass(frozen=True)
class Target:
    number: int | None
    head_sha: str | None
    verify_head: bool = False  # the number came from an artifact: check it against the API


def pr_target(github: GitHubContext, report_dir: Path, pr: int | None) -> Target:
    """Which PR and which commit: the event's head commit, never GitHub's merge commit."""
    event = _event(github)
    found = _from_event(event)
    if pr is not None:
        same = found.number == pr
        return Target(pr, found.head_sha if same else None, verify_head=False)
    if found.number is None and "workflow_run" in event:
        number = _artifact_number(report_dir)
        return Target(number, found.head_sha, verify_head=number is not None)
    return found


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object `dvbuild comment` was given: a report.json, the event, pull-request.json."""
    from dvbuild.util import read_json_object

    return read_json_object(path, what="a report.json object", argument=True)


def _event(github: GitHubContext) -> dict[str, Any]:
    if not github.event_path:
        return {}
    return read_json(Path(github.event_path))


def _from_event(event: Mapping[str, Any]) -> Target:
    pull = event.get("pull_request")
    if isinstance(pull, Mapping):
        return Target(_int(pull.get("number")), _sha((pull.get("head") or {}).get("sha")))
    run = event.get("workflow_run")
    if isinstance(run, Mapping):
        pulls = [p for p in run.get("pull_requests") or [] if isinstance(p, Mapping)]
        number = _int(pulls[0].get("number")) if pulls else None
        return Target(number, _sha(run.get("head_sha")))
    return Target(_int(event.get("number")), None)


def _artifact_number(report_dir: Path) -> int | None:
    """The PR number a fork's run left beside its reports (untrusted: checked later)."""
    path = report_dir / PR_FILE
    if not path.is_file():
        return None
    number = _int(read_json(path).get("number"))
    if number is None:
        raise ConfigError(Problem(str(path), "number is not a positive integer",
                                  pointer="/number", expected="a pull request number"))
    return number


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _sha(value: Any) -> str | None:
    return value if isinstance(value, str) and SHA_RE.match(value) else None
