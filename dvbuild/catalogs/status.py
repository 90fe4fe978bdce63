"""`dvbuild status`: every package, when it runs (cron in words, next runs), the packages it
reads and those that read it (`reads`), and its last run.

The catalog is `--catalog`, else dvbuild.yaml `catalog`, else the file catalog
the last `dvbuild local` run wrote (recorded in `<repo>/.dvbuild/last-local.json`,
so `local --out DIR` is followed), else `file://<repo>/out/catalog`. Run documents come
from the catalog's `dvbuild-runs`, newest first; a missing file catalog just
means nothing has run yet. A catalog that cannot be read, or a schedule that
is invalid, is raised after the rows are shown (`Status.check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dvbuild import console
from dvbuild.errors import ConfigError, DvbuildError, Problem

if TYPE_CHECKING:
    from dvbuild.catalogs.runs import RunDocument
    from dvbuild.package import Package
    from dvbuild.settings import Settings

DEFAULT_CATALOG = "out/catalog"
RUNS_PAGE = 1000  # the Elasticsearch catalog's search size
ON_PUSH = "on push"


@dataclass(frozen=True)
class Status:
    catalog: str  # its URL
    rows: list[dict[str, Any]]  # one per package, by package_status
    problems: list[Problem]  # invalid schedules
    failure: DvbuildError | None  # the catalog could not be read
    source: str = ""  # why this catalog: catalog_choice

    def as_json(self) -> dict[str, Any]:
        return {"catalog": self.catalog, "catalog_from": self.source, "packages": self.rows}

    def check(self) -> None:
        """Raise what went wrong, once the rows have been shown."""
        if self.problems:
            raise ConfigError(self.problems)
        if self.failure is not None:
            raise self.failure


def status(settings: Settings, catalog: str | None = None) -> Status:
    from dvbuild.package import discover, read_by

    packages = discover(settings.root)
    url, source = catalog_choice(settings, catalog)
    runs, docs, failure = read_catalog(url, settings, [p.name for p in packages])
    readers = read_by(packages)
    rows = [package_status(p, runs.get(p.name, []), docs.get(p.name),
                           read_by=readers.get(p.name, [])) for p in packages]
    problems = [Problem(p.descriptor_file, r["problem"], pointer="/schedule")
                for p, r in zip(packages, rows, strict=True) if r.get("problem")]
    return Status(url, rows, problems, failure, source)


def catalog_url(settings: Settings, given: str | None) -> str:
    return catalog_choice(settings, given)[0]


def catalog_choice(settings: Settings, given: str | None) -> tuple[str, str]:
    """(URL, where it came from): --catalog, else dvbuild.yaml's (or $DVBUILD_CATALOG),
    else the catalog of the last `dvbuild local` run, else `<repo>/out/catalog`."""
    from dvbuild.catalogs.last_local import STATE, last_catalog

    if given:
        return given, "--catalog"
    if settings.config.catalog:
        return settings.config.catalog, "dvbuild.yaml catalog or $DVBUILD_CATALOG"
    last = last_catalog(settings.root)
    if last:
        return last, f"the last dvbuild local run, recorded in {STATE}"
    return (settings.root / DEFAULT_CATALOG).as_uri(), f"the default, <repo>/{DEFAULT_CATALOG}"


def read_catalog(url: str, settings: Settings, names: list[str]) -> tuple[
        dict[str, list[RunDocument]], dict[str, dict[str, Any]], DvbuildError | None]:
    """Runs by package (newest first) and package documents; a failing catalog is
    reported after the schedules are shown."""
    from dvbuild.catalogs import open_catalog

    runs: dict[str, list[RunDocument]] = {}
    try:
        catalog = open_catalog(url, settings.environ)
        every = catalog.runs()
        for run in every:
            runs.setdefault(str(run.get("package")), []).append(run)
        if len(every) >= RUNS_PAGE:  # a search answers one page: ask for the quiet ones
            for name in names:
                if name not in runs:
                    runs[name] = catalog.runs(name)
        docs = {str(d.get("name")): d for d in catalog.packages()}
    except DvbuildError as e:
        console.log(f"warning: catalog {console.redact(url)}: {e.message}")
        return {}, {}, e
    return runs, docs, None


def package_status(package: Package, runs: list[RunDocument], doc: dict[str, Any] | None,
                   now: datetime | None = None, *, read_by: Sequence[str] = ()) -> dict[str, Any]:
    """One package's row (pure): schedule in words, next runs, the packages it reads and
    those that read it (`read_by`, from the repository), last version and run."""
    from dvbuild.validate.schedule import cron_problem, describe, next_runs, timezone_problem

    row: dict[str, Any] = {"name": package.name, "path": package.path,
                           "schedule": package.schedule, "timezone": package.timezone,
                           "when": ON_PUSH, "next_runs": [], "reads": package.reads,
                           "read_by": list(read_by)}
    if package.schedule:
        problem = cron_problem(package.schedule) or timezone_problem(package.timezone)
        if problem:
            row.update(when=f"invalid: {problem}", problem=problem)
        else:
            row["when"] = describe(package.schedule, package.timezone)
            row["next_runs"] = [t.isoformat() for t in
                                next_runs(package.schedule, package.timezone, 3, now)]
    last = runs[0] if runs else None
    row["version"] = (doc or {}).get("version") or (last.get("version") if last else None)
    row["published"] = (doc or {}).get("published")
    row["last_run"] = _run_summary(last) if last else None
    return row


def _run_summary(run: RunDocument) -> dict[str, Any]:
    rows: object = run.get("rows")
    if isinstance(rows, dict):  # rows per resource; older documents may hold a number
        counts = [v for v in rows.values() if isinstance(v, int)]
        rows = sum(counts) if counts else None
    return {"status": run.get("status"), "version": run.get("version"),
            "started": run.get("started"), "finished": run.get("finished"),
            "duration": run.get("duration"), "rows": rows, "bytes": run.get("bytes"),
            "commit": run.get("commit"), "error": run.get("error")}


# --- the table -----------------------------------------------------------------------

STYLES = {"published": "green", "unchanged": "green", "passed": "green", "failed": "red",
          "timed_out": "red", "rollback": "yellow"}


def table_text(rows: list[dict[str, Any]], url: str) -> str:
    import io
    import shutil
    import sys

    from rich import box
    from rich.console import Console
    from rich.table import Table

    utf8 = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"
    table = Table(title=f"dvbuild status ({console.redact(url)})", title_justify="left",
                  box=box.HEAVY_HEAD if utf8 else box.ASCII)
    for column in ("Package", "Schedule", "When", "Next runs", "Reads", "Version", "Last run",
                   "Duration", "Rows", "Bytes"):
        table.add_column(column, justify="right" if column in ("Duration", "Rows", "Bytes")
                         else "left")
    for row in rows:
        table.add_row(*_cells(row))
    out = io.StringIO()
    # a terminal wraps cells to fit; a pipe or log gets whole lines
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 1000
    Console(file=out, width=width, highlight=False, color_system=None).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def _cells(row: dict[str, Any]) -> list[str]:
    run = row["last_run"] or {}
    state = run.get("status")
    last = f"{state} {_short(run.get('started'))}" if state else "never"
    return [row["name"], row["schedule"] or ON_PUSH, "" if row["when"] == ON_PUSH else row["when"],
            "\n".join(_short(t) for t in row["next_runs"]) or "-", _edges(row),
            row["version"] or "-", last,
            _duration(run.get("duration")), _number(run.get("rows")), _bytes(run.get("bytes"))]


def _edges(row: dict[str, Any]) -> str:
    """The packages a row reads, and below them those that read it."""
    lines = [", ".join(row["reads"])] if row["reads"] else []
    lines += ["read by " + ", ".join(row["read_by"])] if row["read_by"] else []
    return "\n".join(lines) or "-"


def _short(iso: Any) -> str:
    try:
        return datetime.fromisoformat(str(iso)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(iso or "")


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _bytes(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(value)
