"""`dvbuild comment`: test reports → the one PR comment (posted or updated) and the job summary.

    load_reports   <dir>/<name>/report.json → Reports, by package name
    compose        target, last published manifests, Markdown (no posting)
    post           upsert the comment found by its MARKER, at the tested commit only
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from dvbuild import console
from dvbuild.comment import markdown
from dvbuild.comment.previous import previous_manifests
from dvbuild.comment.target import Target, pr_target
from dvbuild.errors import ConfigError, Problem, ServiceError, UsageError
from dvbuild.settings import GitHubContext

if TYPE_CHECKING:
    from dvbuild.adapters.github import Posted
    from dvbuild.notebooks.report import Report


@dataclass(frozen=True)
class Draft:
    target: Target
    body: str  # the comment
    summary: str  # the job summary


@dataclass(frozen=True)
class Commented:
    body: str
    posted: Posted | None  # None: a dry run, nothing was posted


def comment_on_pr(github: GitHubContext, report_dir: Path, *, pr: int | None,
                  store_url: str | None, environ: Mapping[str, str],
                  dry_run: bool = False) -> Commented:
    """Compose the comment, append the job summary, and post unless `dry_run`."""
    draft = compose(github, report_dir, pr=pr, store_url=store_url, environ=environ)
    write_summary(github, draft.summary)
    return Commented(draft.body, None if dry_run else post(github, draft.target, draft.body))


def compose(github: GitHubContext, report_dir: Path, *, pr: int | None,
            store_url: str | None, environ: Mapping[str, str]) -> Draft:
    reports = load_reports(report_dir)
    target = pr_target(github, report_dir, pr)
    previous = previous_manifests(store_url, [str(r.get("package")) for r in reports], environ)
    head = target.head_sha or _reported_commit(reports)
    body = markdown.render_comment(
        reports, head_sha=head, previous=previous, artifact_url=run_url(github),
        commit_url=f"{github.server_url}/{github.repository}/commit/{head}"
        if github.repository and head else None,
    )
    summary = markdown.render_summary(reports, head_sha=head, previous=previous)
    return Draft(target, body, summary)


def load_reports(folder: Path) -> list[Report]:
    """Every <name>/report.json below the folder (and a report.json in it), by name."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder", hint="give the folder `dvbuild test --out` wrote")
    files = sorted(folder.glob("*/report.json")) + sorted(folder.glob("report.json"))
    reports = [load_report(f) for f in files]
    return sorted(reports, key=lambda r: str(r.get("package") or ""))


def load_report(path: Path) -> Report:
    """One report.json, checked against its schema before anything renders it: under
    `workflow_run` the reports are a fork's artifacts, untrusted data."""
    from dvbuild.schemas.report import MAX_BYTES, report_problems
    from dvbuild.util import parse_json_object, read_json_text
    from dvbuild.validate.positions import positions

    what = "a report.json object (what `dvbuild test` writes)"
    text = read_json_text(path, str(path), what=what, max_bytes=MAX_BYTES)
    document = parse_json_object(text, str(path), what=what)
    problems = report_problems(document)
    if problems:
        lines = positions(text, [pointer for pointer, _ in problems])
        raise ConfigError([Problem(str(path), message, pointer,
                                   *lines.get(pointer, (None, None)))
                           for pointer, message in problems],
                          hint="a report.json is written by `dvbuild test`; this one was "
                               "changed or comes from another version")
    return cast("Report", document)


def _reported_commit(reports: Sequence[Report]) -> str | None:
    return next((str(r["commit"]) for r in reports if r.get("commit")), None)


def run_url(github: GitHubContext) -> str | None:
    """Where the report artifact is: the workflow run's page."""
    if not (github.repository and github.run_id):
        return None
    return f"{github.server_url}/{github.repository}/actions/runs/{github.run_id}"


def write_summary(github: GitHubContext, text: str) -> None:
    if github.actions and github.step_summary:
        with open(github.step_summary, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def post(github: GitHubContext, target: Target, body: str) -> Posted:
    from dvbuild.adapters.github import PullRequests

    if target.number is None:
        raise UsageError("no pull request to comment on",
                         hint="run on a pull_request event, or pass --pr N")
    if not github.token:
        raise UsageError("no GitHub token", hint="set GITHUB_TOKEN (the action's github-token input)")
    if not github.repository:
        raise UsageError("GITHUB_REPOSITORY is not set", hint="run under GitHub Actions")
    console.mask(github.token)
    prs = PullRequests(github.api_url, github.token, github.repository)
    if target.verify_head and prs.head_sha(target.number) != target.head_sha:
        raise ServiceError(f"pull request #{target.number} is not at the tested commit "
                           f"{target.head_sha}", hint="a newer push will comment instead")
    return prs.upsert_comment(target.number, body, markdown.MARKER)
