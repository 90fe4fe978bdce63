"""Finding the manifests dvbuild rendered in a folder (label + annotation), so a
re-render replaces them and pruning removes them, and other files are never touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dvbuild.manifests.names import MANAGED_BY, PACKAGE_KEY

_MANAGED_LINE = f"app.kubernetes.io/managed-by: {MANAGED_BY}\n"
_PACKAGE_LINE = re.compile(rf'^ +"{PACKAGE_KEY}": (".*")$', re.MULTILINE)


def managed_manifests(out: Path) -> dict[str, list[Path]]:
    """Package name -> manifests in OUT that dvbuild rendered (by label and annotation)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(out.glob("*.yaml")) if out.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        name = _managed_package(text)
        if name:
            found.setdefault(name, []).append(path)
    return found


def _managed_package(text: str) -> str | None:
    if PACKAGE_KEY not in text:
        return None
    m = _PACKAGE_LINE.search(text)
    if _MANAGED_LINE in text and m:  # as rendered: no need to parse the whole file
        return str(json.loads(m[1]))
    import yaml  # reformatted by someone: read it properly

    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return None
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    if labels.get("app.kubernetes.io/managed-by") == MANAGED_BY and notes.get(PACKAGE_KEY):
        return str(notes[PACKAGE_KEY])
    return None
