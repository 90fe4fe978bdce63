"""`dvbuild comment --report DIR [--pr N] [--dry-run] [--store URL]`: the one PR comment."""

from __future__ import annotations

from pathlib import Path

import typer

from dvbuild import console
from dvbuild.commands import settings_for
from dvbuild.settings import Settings

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
    settings = settings_for(repo, require_git=False)  # fork reports may arrive without a checkout
    return run(report, pr=pr, dry_run=dry_run, store=store, settings=settings)


def run(report_dir: Path, *, pr: int | None, dry_run: bool, store: str | None,
        settings: Settings) -> int:
    from dvbuild.comment.post import comment_on_pr

    done = comment_on_pr(settings.github, report_dir, pr=pr,
                         store_url=store or settings.config.store, environ=settings.environ,
                         dry_run=dry_run)
    if done.posted is None:
        console.echo(done.body)
    else:
        console.log(f"comment {done.posted.action}: {done.posted.url}")
    return 0
