"""`dvbuild comment --report DIR [--pr N] [--dry-run] [--store URL]`: the one PR comment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from dvbuild import console
from dvbuild.commands import settings_for
from dvbuild.errors import ConfigError, Problem, ServiceError, UsageError
from dvbuild.settings import GitHubContext, Settings

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
PR_FILE = "pull-request.json"  # {"number": N}: written beside fork reports for workflow_run


@dataclass(frozen=True)
class Target:
    number: int | None
    head_sha: str | None
    verify_head: bool = False  # the number came from an artifact: check it against the API


REPORT_OPTION = typer.Option(..., "--report", file_okay=False,
                             help="Folder of <name>/report.json files (what `dvbuild test` wrote).")
PR_OPTION = typer.Option(None, "--pr", help="Pull request number (default: the event's).")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="Print the comment's Markdown only.")
STORE_OPTION = typer.Option(None, "--store",
                            help="Store URL, to compare with the last published versions.")
REPO_OPTION = typer.Option(None, "--repo", file_okay=False,
                           help="The monorepo folder (for dvbuild.yaml's store).")


def register(app: typer.Typer) -> None:
    app.command("comment")(comment)


def comment(
    report: Path = REPORT_OPTION,
    pr: int | None = PR_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
    store: str | None = STORE_OPTION,
    repo: Path | None = REPO_OPTION,
) -> int:
    """Post or update the one pull request comment from test reports."""
    settings = settings_for(repo) if repo is not None or _in_git() else None
    return run(report, pr=pr, dry_run=dry_run, store=store, settings=settings)


def _in_git() -> bool:
    from dvbuild import gitio
    from dvbuild.errors import DvbuildError

    try:
        gitio.get_root(Path.cwd())
    except DvbuildError:
        return False
    return True


def run(report_dir: Path, *, pr: int | None, dry_run: bool, store: str | None,
        settings: Settings | None) -> int:
    from dvbuild.commands import environ
    from dvbuild.comment import markdown as report

    env = settings.environ if settings else environ()
    github = settings.github if settings else GitHubContext.from_environ(env)
    console.configure(github_actions=github.actions)
    reports = load_reports(report_dir)
    target = pr_target(github, report_dir, pr)
    store_url = store or (settings.config.store if settings else None)
    previous = previous_manifests(store_url, [str(r.get("package")) for r in reports], env)
    head = target.head_sha or _reported_commit(reports)
    body = report.render_comment(
        reports, head_sha=head, previous=previous, artifact_url=run_url(github),
        commit_url=f"{github.server_url}/{github.repository}/commit/{head}"
        if github.repository and head else None,
    )
    _write_summary(github, report.render_summary(reports, head_sha=head, previous=previous))
    if dry_run:
        console.echo(body)
        return 0
    posted = post(github, target, body)
    console.log(f"comment {posted.action}: {posted.url}")
    return 0


def load_reports(folder: Path) -> list[dict[str, Any]]:
    """Every <name>/report.json below the folder (and a report.json in it), by name."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder", hint="give the folder `dvbuild test --out` wrote")
    files = sorted(folder.glob("*/report.json")) + sorted(folder.glob("report.json"))
    reports = [_read_json(f) for f in files]
    return sorted(reports, key=lambda r: str(r.get("package") or ""))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(Problem(str(path), f"malformed JSON: {e.msg}", line=e.lineno,
                                  column=e.colno, expected="a report.json object")) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem(str(path), f"top level is {type(data).__name__}",
                                  expected="a report.json object"))
    return data


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


def _event(github: GitHubContext) -> dict[str, Any]:
    if not github.event_path:
        return {}
    return _read_json(Path(github.event_path))


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
    number = _int(_read_json(path).get("number"))
    if number is None:
        raise ConfigError(Problem(str(path), "number is not a positive integer",
                                  pointer="/number", expected="a pull request number"))
    return number


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _sha(value: Any) -> str | None:
    return value if isinstance(value, str) and SHA_RE.match(value) else None


def _reported_commit(reports: list[dict[str, Any]]) -> str | None:
    return next((str(r["commit"]) for r in reports if r.get("commit")), None)


def previous_manifests(store_url: str | None, names: list[str],
                       environ: Mapping[str, str]) -> dict[str, dict[str, Any] | None]:
    """The last published manifest of each package; {} when the store cannot be read
    (the comment then shows no changes, and says nothing false)."""
    if not store_url:
        return {}
    try:
        from dvbuild import publish
        from dvbuild.stores import open_store

        store = open_store(store_url, environ)
        found: dict[str, dict[str, Any] | None] = {}
        for name in names:
            latest = publish.latest(store, name)
            found[name] = publish.read_manifest(store, name, str(latest["version"])) if latest else None
        return found
    except Exception as e:  # a comment without the comparison beats no comment
        console.log(f"warning: cannot read the last published versions from {store_url}: {e}")
        return {}


def run_url(github: GitHubContext) -> str | None:
    """Where the report artifact is: the workflow run's page."""
    if not (github.repository and github.run_id):
        return None
    return f"{github.server_url}/{github.repository}/actions/runs/{github.run_id}"


def _write_summary(github: GitHubContext, text: str) -> None:
    if github.actions and github.step_summary:
        with open(github.step_summary, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def post(github: GitHubContext, target: Target, body: str) -> Any:
    from dvbuild.adapters.github import PullRequests
    from dvbuild.comment.markdown import MARKER

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
    return prs.upsert_comment(target.number, body, MARKER)
