"""`dvbuild detect`: which packages a push or pull request changed.

The work and the output live in `dvbuild.detect.cli`, which `cli.main` also
calls directly (without typer) for speed; this module registers the same
options so `--help` and usage errors look like every other command's.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dvbuild.commands import JSON_OPTION, REPO_OPTION
from dvbuild.detect import DEFAULT_MAX_JOBS, MATRIX_LIMIT

EVENT_OPTION = typer.Option(
    None, "--event", help="A GitHub event payload (default: $GITHUB_EVENT_PATH).", dir_okay=False
)


def register(app: typer.Typer) -> None:
    app.command("detect", help="Which packages changed between two commits (or in a GitHub event).")(
        detect_command
    )


def detect_command(
    base: str | None = typer.Option(None, "--base", help="Compare with this commit (two-dot)."),
    head: str | None = typer.Option(None, "--head", help="The commit to build (default: HEAD)."),
    event: Path | None = EVENT_OPTION,
    event_name: str | None = typer.Option(
        None, "--event-name", help="The event's name (default: $GITHUB_EVENT_NAME, else inferred)."
    ),
    all_: bool = typer.Option(False, "--all", help="Select every package."),
    since_published: str | None = typer.Option(
        None, "--since-published", metavar="STORE",
        help="Select packages whose input hash differs from their last published version's.",
    ),
    max_jobs: int = typer.Option(
        DEFAULT_MAX_JOBS, "--max-jobs", min=1, max=MATRIX_LIMIT,
        help="Matrix entries at most; more packages are grouped into this many shards.",
    ),
    durations_from: str | None = typer.Option(
        None, "--durations-from", metavar="CATALOG",
        help="Balance shards by the last run durations in this catalog (default: dvbuild.yaml's).",
    ),
    json_: bool = JSON_OPTION,
    repo: Path | None = REPO_OPTION,
) -> int:
    from dvbuild.detect.cli import Options, run

    opts = Options(repo=str(repo) if repo else None, base=base, head=head,
                   event=str(event) if event else None, event_name=event_name, all_=all_,
                   json=json_, since_published=since_published, max_jobs=max_jobs,
                   durations_from=durations_from)
    return run(opts, os.environ)
