"""report.json: assembled from the worker's result, given its status, written masked.

A `Report` crosses stages: `test`/`run` write it, `local`'s pipeline keeps it,
`comment` renders it and `publish` reads the commit, input hash and resource
facts from the report.json beside a package directory. Reports read back from
disk are whatever the file holds, so readers use `.get`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Required, TypedDict

from dvbuild.notebooks import convert

REPORT = "report.json"
STATUSES = ("passed", "failed", "timed_out", "invalid")


class Report(TypedDict, total=False):
    package: Required[str]
    path: Required[str]  # the package folder, relative to the monorepo
    status: Required[str | None]  # one of STATUSES; None until the run ends
    duration: Required[float]  # seconds
    commit: str | None
    input_hash: str | None
    started: str  # ISO 8601, UTC
    mode: str  # test | run
    notebooks: Required[list[dict[str, Any]]]  # per notebook: path, status, error, html …
    resources: Required[list[dict[str, Any]]]  # per resource: name, path, exists, rows …
    warnings: Required[list[str]]
    error: Required[str | None]  # the one line saying why it did not pass


def new_report(name: str, path: str, *, mode: str, commit: str | None = None,
               input_hash: str | None = None, started: str | None = None) -> Report:
    """A report before anything ran: no status, no notebooks, no resources yet."""
    return {
        "package": name, "path": path, "status": None, "duration": 0.0,
        "commit": commit, "input_hash": input_hash,
        "started": started or datetime.now(UTC).isoformat(timespec="seconds"), "mode": mode,
        "notebooks": [], "resources": [], "warnings": [], "error": None,
    }


def finish(report: Report, result: dict[str, Any], folder: Path) -> Report:
    if "crash" in result or "killed" in result:
        return _worker_failed(report, result, folder)
    report["notebooks"] = result.get("notebooks", [])
    report["warnings"] += result.get("warnings", [])
    report["resources"] = result.get("resources", [])
    report["status"], report["error"] = status_of(report["notebooks"], report["resources"])
    return report


def status_of(notebooks: list[dict[str, Any]],
              resources: list[dict[str, Any]]) -> tuple[str, str | None]:
    for nb in notebooks:
        if nb["status"] in ("failed", "timed_out"):
            return nb["status"], failure_line(nb)
    missing = [str(r.get("name") or r.get("path")) for r in resources if not r.get("exists")
               and r.get("path") is not None]
    if missing:
        return "failed", "declared resource(s) not produced by the run: " + ", ".join(missing)
    return "passed", None


def failure_line(nb: dict[str, Any]) -> str:
    err = nb.get("error") or {}
    where = f" in cell {err['cell_number']}" if err.get("cell_number") else ""
    what = f": {err.get('ename')}: {err.get('evalue')}" if err.get("ename") else ""
    verb = "timed out" if nb["status"] == "timed_out" else "failed"
    return f"{nb['path']} {verb}{where}{what}".rstrip(": ")


def _worker_failed(report: Report, result: dict[str, Any], folder: Path) -> Report:
    from dvbuild.notebooks.resources import check_resources

    report["status"] = "timed_out" if "killed" in result else "failed"
    report["error"] = str(result.get("killed") or result.get("crash"))
    try:
        import json

        descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        report["resources"] = check_resources(folder, descriptor)
    except (OSError, ValueError):
        pass
    return report


def write(report: Report, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    convert.write_json(folder / REPORT, report)


def summary_line(report: Report) -> str:
    return f"{report['status']:<9} {report['package']}  ({report['duration']:.1f}s)"


def details(report: Report) -> list[str]:
    """The human explanation of a failure: what failed, where, and the traceback."""
    lines: list[str] = []
    if report.get("error"):
        lines.append(f"{report['package']}: {report['error']}")
    for nb in report.get("notebooks", []):
        err = nb.get("error")
        if not err:
            continue
        if err.get("source"):
            lines.append(f"  cell {err.get('cell_number')} source:")
            lines += ["    " + ln for ln in str(err["source"]).splitlines()[:20]]
        if err.get("traceback"):
            lines += ["  " + ln for ln in str(err["traceback"]).splitlines()[-25:]]
    for r in report.get("resources", []):
        for e in r.get("errors", [])[:5]:
            lines.append(f"  resource {r.get('name')}: {e}")
    return lines
