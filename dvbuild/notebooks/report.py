"""report.json: assembled from the worker's result, given its status, written masked.

A `Report` crosses stages: `test`/`run` write it, `local`'s pipeline keeps it,
`comment` renders it and `publish` reads the commit, input hash, resource facts
and `inputs` (what the run read with `read_dp`) from the report.json beside a
package directory. Reports read back from disk are whatever the file holds, so
readers use `.get`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Required, TypedDict

from dvbuild.notebooks import convert
from dvbuild.notebooks.outcome import cut_traceback

REPORT = "report.json"
TEST, PRODUCTION = "test", "production"  # report.json's `mode`
STATUSES = ("passed", "failed", "timed_out", "invalid")
TRACEBACK_LINES = 40  # in the terminal; the failing cell's frame is always among them


class Report(TypedDict, total=False):
    package: Required[str]
    path: Required[str]  # the package folder, relative to the monorepo
    status: Required[str | None]  # one of STATUSES; None until the run ends
    duration: Required[float]  # seconds
    commit: str | None
    input_hash: str | None
    started: str  # ISO 8601, UTC
    mode: str  # test | production (`dvbuild test`/`local` | `dvbuild run`): what publish checks
    parameters: dict[str, Any]  # what the notebooks ran with
    dvbuild_version: str
    image: dict[str, Any] | None  # {ref, digest} of the image it ran in, else None
    run_url: str | None  # the GitHub Actions run that ran it, else None
    notebooks: Required[list[dict[str, Any]]]  # per notebook: path, status, error, html …
    resources: Required[list[dict[str, Any]]]  # per resource: name, path, exists, rows …
    inputs: list[dict[str, Any]]  # per read_dp read: name, version, resource, sha256
    warnings: Required[list[str]]
    leaks: list[dict[str, str]]  # files that held a secret value: {path, why}; never published
    error: Required[str | None]  # the one line saying why it did not pass


def new_report(name: str, path: str, *, mode: str, commit: str | None = None,
               input_hash: str | None = None, started: str | None = None,
               parameters: Mapping[str, Any] | None = None,
               image: Mapping[str, Any] | None = None, run_url: str | None = None) -> Report:
    """A report before anything ran: no status, no notebooks, no resources yet. `mode` is
    the run's (`test` or `run`); the report records `run` as `production`."""
    from dvbuild import __version__

    return {
        "package": name, "path": path, "status": None, "duration": 0.0,
        "commit": commit, "input_hash": input_hash,
        "started": started or datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": recorded_mode(mode), "parameters": dict(parameters or {}),
        "dvbuild_version": __version__, "image": dict(image) if image else None,
        "run_url": run_url,
        "notebooks": [], "resources": [], "warnings": [], "error": None,
    }


def recorded_mode(mode: str) -> str:
    """What report.json and _manifest.json say: `test`, or `production` for a `dvbuild run`
    (older reports say `run`)."""
    return PRODUCTION if mode == "run" else mode


def finish(report: Report, result: dict[str, Any], folder: Path,
           reads: Collection[str] = ()) -> Report:
    """The worker's result into the report; `reads` are the packages the package
    declares it reads (a read of any other is a warning)."""
    if "crash" in result or "killed" in result:
        _worker_failed(report, result, folder)
    elif "environment" in result:  # its requirements could not be resolved or installed
        report["status"], report["error"] = "failed", str(result["environment"])
    else:
        report["notebooks"] = result.get("notebooks", [])
        report["warnings"] += result.get("warnings", [])
        report["resources"] = result.get("resources", [])
        report["status"], report["error"] = status_of(report["notebooks"], report["resources"])
    return record_inputs(report, folder, reads)


def record_inputs(report: Report, folder: Path, reads: Collection[str]) -> Report:
    """What the run read (the folder's .dvbuild-inputs.jsonl), each undeclared package once."""
    from dvbuild.api.read import read_inputs

    report["inputs"] = read_inputs(folder)
    for name in dict.fromkeys(str(i["name"]) for i in report["inputs"]):
        if name not in reads:
            report["warnings"].append(f"read_dp({name!r}) reads a package not declared in `reads`")
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
    invalid = [r for r in resources if r.get("exists") and r.get("errors")]
    if invalid:
        return "failed", "data does not match the descriptor: " + "; ".join(
            f"{r.get('name') or r.get('path')}: {_error_count(r)} ({r['errors'][0]})"
            for r in invalid)
    return "passed", None


def _error_count(resource: dict[str, Any]) -> str:
    n = resource.get("error_count") or len(resource["errors"])
    return f"{n}{'+' if resource.get('more_errors') else ''} error{'s' if n != 1 else ''}"


def failure_line(nb: dict[str, Any]) -> str:
    err = nb.get("error") or {}
    where = f" in cell {err['cell_number']}" if err.get("cell_number") else ""
    what = f": {err.get('ename')}: {err.get('evalue')}" if err.get("ename") else ""
    verb = "timed out" if nb["status"] == "timed_out" else "failed"
    hint = f" (hint: {err['hint']})" if err.get("hint") else ""
    return f"{nb['path']} {verb}{where}{what}".rstrip(": ") + hint


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
            kept, _ = cut_traceback(err["traceback"], TRACEBACK_LINES)
            lines += ["  " + ln for ln in kept]
    for r in report.get("resources", []):
        for e in r.get("errors", [])[:5]:
            lines.append(f"  resource {r.get('name')}: {e}")
    return lines


def counts(reports: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Packages per status, in STATUSES order (no status counts as failed): the one count
    the CLI, the PR comment and the job summary all show."""
    found: dict[str, int] = {}
    for r in reports:
        status = str(r.get("status") or "failed")
        found[status] = found.get(status, 0) + 1
    order = {s: i for i, s in enumerate(STATUSES)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def counts_text(reports: Iterable[Mapping[str, Any]]) -> str:
    """`7 passed, 16 failed, 1 timed out`."""
    return ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts(reports).items()) \
        or "no packages"
