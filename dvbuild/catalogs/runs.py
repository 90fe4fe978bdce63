"""The run document (`dvbuild-runs`): one per publish, rollback or failed production run.

Built here only, by `run_document`; `dvbuild status` reads it back. Documents
read from a catalog may be older than this shape, so readers use `.get`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Required, TypedDict, Unpack


class Moved(TypedDict, total=False):
    """What a publish moved (a rollback leaves these out), and which CI run it was."""

    files: int
    uploaded: int
    bytes: int
    bytes_uploaded: int
    latest: bool  # latest.json points at this version
    run_id: str | None  # GITHUB_RUN_ID
    error: str | None


class RunDocument(Moved, total=False):
    package: Required[str]
    version: Required[str | None]  # None: the run failed before there was a version
    status: Required[str]  # published | unchanged | failed | timed_out | invalid | rollback
    started: Required[str]  # ISO 8601
    finished: Required[str]
    duration: Required[float]  # seconds
    commit: Required[str | None]
    input_hash: Required[str | None]
    rows: Required[dict[str, int | None]]  # rows per resource


def run_document(package: str, version: str | None, status: str, *, started: str, finished: str,
                 duration: float, commit: str | None, input_hash: str | None,
                 rows: Mapping[str, int | None] | None = None,
                 **moved: Unpack[Moved]) -> RunDocument:
    return {"package": package, "version": version, "status": status, "started": started,
            "finished": finished, "duration": duration, "commit": commit,
            "input_hash": input_hash, "rows": dict(rows or {}), **moved}
