"""`dvbuild detect` without typer: options, output (text, JSON, GitHub step outputs).

detect runs at the start of every CI job, so `cli.main` sends plain
`dvbuild detect ...` argument lists here and skips importing typer/click
(about 0.1 s). Anything this parser does not know (`--help`, a typo) goes
through typer as usual, which registers the same options in
`commands/detect.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from dvbuild import console
from dvbuild.detect import DEFAULT_MAX_JOBS, MATRIX_LIMIT
from dvbuild.detect.selection import Detection, detect
from dvbuild.settings import Settings, load_settings

FLAGS = {"--all": "all_", "--json": "json"}
VALUES = {"--base": "base", "--head": "head", "--event": "event", "--event-name": "event_name",
          "--repo": "repo", "--since-published": "since_published", "--max-jobs": "max_jobs",
          "--durations-from": "durations_from"}


class Options(NamedTuple):
    repo: str | None = None
    base: str | None = None
    head: str | None = None
    event: str | None = None
    event_name: str | None = None
    all_: bool = False
    json: bool = False
    since_published: str | None = None
    max_jobs: int = DEFAULT_MAX_JOBS
    durations_from: str | None = None


def parse_fast(args: Sequence[str]) -> Options | None:
    """Options from argv, or None when typer should parse (help, errors, unknown flags)."""
    values: dict[str, object] = {}
    it = iter(args)
    for arg in it:
        flag, eq, inline = arg.partition("=")
        if arg in FLAGS:
            values[FLAGS[arg]] = True
        elif flag in VALUES and eq:
            values[VALUES[flag]] = inline
        elif arg in VALUES:
            value = next(it, None)
            if value is None or value.startswith("--"):
                return None
            values[VALUES[arg]] = value
        else:
            return None
    if "max_jobs" in values:
        jobs = _jobs(str(values["max_jobs"]))
        if jobs is None:
            return None  # typer says what range it takes
        values["max_jobs"] = jobs
    return Options(**values)  # type: ignore[arg-type]


def _jobs(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if 1 <= int(text) <= MATRIX_LIMIT else None


def run(opts: Options, environ: Mapping[str, str]) -> int:
    settings = load_settings(Path(opts.repo) if opts.repo else None, environ=environ)
    console.configure(github_actions=settings.github.actions)
    if opts.since_published:
        from dvbuild.detect.since import since_published

        found = since_published(settings, opts.since_published, head=opts.head)
    else:
        found = detect(settings, base=opts.base, head=opts.head,
                       event_path=Path(opts.event) if opts.event else None,
                       event_name=opts.event_name, all_=opts.all_)
    if len(found.packages) > opts.max_jobs:  # only then are durations worth a catalog read
        from dvbuild.detect.shards import plan

        found.shards, notices = plan(settings, found.packages, opts.max_jobs, opts.durations_from)
        found.notices += notices
    for notice in found.notices:
        console.log(f"notice: {console.untrusted(notice)}")
        console.annotate("notice", notice)
    if settings.github.output:
        write_outputs(settings, found)
    if opts.json:
        console.emit_json(found.as_json())
    else:
        console.echo(human(found))
    return 0


def write_outputs(settings: Settings, found: Detection) -> None:
    """Step outputs for `${{ steps.detect.outputs.matrix }}` and friends, each in the
    heredoc form so any value (even a multi-line one) is safe."""
    assert settings.github.output is not None
    values = {
        "packages": json.dumps(found.names),
        "matrix": json.dumps(found.matrix()),
        "any": "true" if found.packages else "false",
        "all": "true" if found.all else "false",
        "fork": "true" if found.fork else "false",
        "removed": json.dumps([r.name for r in found.removed]),
        "base": found.base or "",
        "head": found.head or "",
    }
    with open(settings.github.output, "a", encoding="utf-8") as out:
        for key, value in values.items():
            delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
            out.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")


def human(found: Detection) -> str:
    head = "the working tree" if found.worktree else _short(found.head)
    if found.all:
        first = "every package " + ("in the working tree" if found.worktree else f"at {head}")
    elif found.base:
        first = f"compared {_short(found.base)}..{head}"
    else:
        first = "nothing to compare"
    lines = [first + (" (a pull request from a fork)" if found.fork else "")]
    if not found.packages:
        lines.append("no packages to build")
    else:
        jobs = f" in {len(found.shards)} shards" if found.shards else ""
        lines.append(f"{len(found.packages)} package(s) to build{jobs}:")
        names = {p.path: console.untrusted(p.name) for p in found.packages}
        width = max(len(n) for n in names.values())
        for p in found.packages:
            lines.append(f"  {names[p.path]:<{width}}  {console.untrusted(p.path)}  "
                         f"({_reasons(found.reasons.get(p.path, []))})")
    for r in found.removed:
        lines.append(f"removed: {console.untrusted(r.name)} ({console.untrusted(r.path)})")
    if found.unowned:
        lines.append(f"unowned (nothing built for them): {_reasons(found.unowned)}")
    return "\n".join(lines)


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "(none)"


def _reasons(items: list[str], limit: int = 3) -> str:
    """File paths (untrusted: a file name may hold a newline and a workflow command)."""
    shown = ", ".join(console.untrusted(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
