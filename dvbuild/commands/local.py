"""`dvbuild local [--base REF] [--head REF] [--all] [--out DIR] [--repo DIR] [--json]`:
the whole pipeline as a dry run on this machine (see dvbuild/pipeline.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dvbuild import console
from dvbuild.commands import JSON_OPTION, REPO_OPTION, settings_for

if TYPE_CHECKING:
    from dvbuild.pipeline import LocalRun, Step

BASE_OPTION = typer.Option(None, "--base", help="Compare from this ref (default: as detect does).")
HEAD_OPTION = typer.Option(None, "--head", help="Compare up to this ref (default: the working tree).")
ALL_OPTION = typer.Option(False, "--all", help="Every package, not only the changed ones.")
OUT_OPTION = typer.Option(None, "--out", file_okay=False,
                          help="Output folder (default: out/ in the monorepo root).")
NO_BUILD_OPTION = typer.Option(False, "--no-build", help="Do not build images, even if Docker answers.")
MARKS = {"ok": "✓", "failed": "✗", "invalid": "✗", "skipped": "–", "running": "…"}


def register(app: typer.Typer) -> None:
    app.command("local")(local)


def local(
    base: str | None = BASE_OPTION,
    head: str | None = HEAD_OPTION,
    all_: bool = ALL_OPTION,
    out: Path | None = OUT_OPTION,
    repo: Path | None = REPO_OPTION,
    no_build: bool = NO_BUILD_OPTION,
    as_json: bool = JSON_OPTION,
) -> int:
    """Run detect, validate, test, build, publish and render locally; nothing leaves the machine."""
    from dvbuild.pipeline import run_local

    settings = settings_for(repo)
    folder = out if out is not None else settings.root / "out"
    with _progress(console.interactive(settings.environ)) as progress:
        run = run_local(settings, out=folder, base=base, head=head, all_=all_,
                        build=not no_build, progress=progress)
    summary = run.out / "summary.md"
    if settings.github.actions and settings.github.step_summary and summary.is_file():
        with open(settings.github.step_summary, "a", encoding="utf-8") as f:
            f.write(summary.read_text(encoding="utf-8"))
    if as_json:
        console.emit_json(run.as_json())
    else:
        console.echo(table(run))
    return run.exit_code


def table(run: LocalRun) -> str:
    """What happened and where it is: one line per step, then the packages."""
    rows = [(f"{MARKS.get(s.status, '?')} {s.name}", s.status, _short(s.detail), s.where)
            for s in run.steps]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) +
             (f"  → {r[3]}" if r[3] else "") for r in rows]
    lines.append("")
    for r in run.reports:
        lines.append(f"  {r['package']}: {r.get('status')}"
                     + (f" ({r.get('error')})" if r.get("error") else ""))
    lines.append(f"results in {run.out}  (open comment.md to see the PR comment)")
    return "\n".join(lines)


def _short(text: str, width: int = 64) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class _progress:
    """A spinner per step on a terminal; plain log lines in CI."""

    def __init__(self, fancy: bool) -> None:
        self.fancy = fancy
        self.status: Any = None

    def __enter__(self) -> _progress:
        if self.fancy:
            from rich.console import Console

            self.rich = Console(stderr=True)
            self.status = self.rich.status("dvbuild local")
            self.status.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.status is not None:
            self.status.stop()

    def __call__(self, step: Step) -> None:
        if step.name == "test" and self.status is not None:
            # the test run draws its own live display (one line per running package)
            (self.status.stop if step.status == "running" else self.status.start)()
        if step.status == "running":
            if self.status is not None:
                self.status.update(f"{step.name} …")
            else:
                console.log(f"dvbuild local: {step.name} …")
            return
        line = f"{MARKS.get(step.status, '?')} {step.name}: {step.status} ({step.seconds}s)"
        line += f" {step.detail}" if step.detail else ""
        if self.status is not None:
            colour = {"ok": "green", "skipped": "yellow"}.get(step.status, "red")
            from rich.text import Text

            self.rich.print(Text(console.redact(line), style=colour))
        else:
            console.log(line)
