"""What a package read (`read_dp`) against what its last published version read.

Pure: a report's `inputs` and the previous `_manifest.json`'s `inputs` in, one
change per upstream package out. Nothing is compared when either side never
recorded its inputs (a manifest from before lineage, a run that did not start),
and a run that did not pass may have stopped before a read, so it never says
that a read was dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple


class UpstreamChange(NamedTuple):
    kind: str  # changed | new | dropped
    name: str
    before: tuple[str, ...]  # the versions the last published version read
    after: tuple[str, ...]  # the versions this run read


def upstream_changes(report: Mapping[str, Any],
                     manifest: Mapping[str, Any] | None) -> list[UpstreamChange]:
    """Per upstream package, sorted by name: read another version, newly read, no longer read."""
    if manifest is None or not isinstance(manifest.get("inputs"), list) \
            or not isinstance(report.get("inputs"), list):
        return []
    before, after = versions_read(manifest["inputs"]), versions_read(report["inputs"])
    changes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name, ()), after.get(name, ())
        if old and new and old != new:
            changes.append(UpstreamChange("changed", name, old, new))
        elif new and not old:
            changes.append(UpstreamChange("new", name, old, new))
        elif old and not new and report.get("status") == "passed":
            changes.append(UpstreamChange("dropped", name, old, new))
    return changes


def versions_read(inputs: Iterable[Any]) -> dict[str, tuple[str, ...]]:
    """Package name → the sorted versions read of it (a run may read two versions)."""
    found: dict[str, set[str]] = {}
    for entry in inputs:
        if isinstance(entry, Mapping) and entry.get("name") and entry.get("version"):
            found.setdefault(str(entry["name"]), set()).add(str(entry["version"]))
    return {name: tuple(sorted(versions)) for name, versions in found.items()}
