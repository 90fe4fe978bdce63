"""report.json: assembled from the worker's result, given its status, written masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dvbuild.notebooks import convert

REPORT = "report.json"
STATUSES = ("passed", "failed", "timed_out", "invalid")


def finish(report: dict[str, Any], result: dict[str, Any], folder: Path) -> dict[str, Any]:
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


def _worker_failed(report: dict[str, Any], result: dict[str, Any], folder: Path) -> dict[str, Any]:
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


def write(report: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    convert.write_json(folder / REPORT, report)


def summary_line(report: dict[str, Any]) -> str:
    return f"{report['status']:<9} {report['package']}  ({report['duration']:.1f}s)"


def details(report: dict[str, Any]) -> list[str]:
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
