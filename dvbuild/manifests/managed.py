"""Finding the manifests dvbuild rendered in a folder (label + annotation), so a
re-render replaces them and pruning removes them, and other files are never touched."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dvbuild.manifests.names import MANAGED_BY, PACKAGE_KEY

_MANAGED_LINE = f"app.kubernetes.io/managed-by: {MANAGED_BY}\n"
# metadata.annotations as `render` writes it (one line), or JSON-quoted as the jinja
# templates of earlier versions did
_PACKAGE_LINE = re.compile(rf'^    "?{PACKAGE_KEY}"?: (.+)$', re.MULTILINE)
_PLAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # a package name YAML reads as written


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
        name = m[1] if _PLAIN_NAME.match(m[1]) else _safe_load(m[1])
        if isinstance(name, str):
            return name
    doc = _safe_load(text)  # reformatted by someone: read it properly
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return None
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    if labels.get("app.kubernetes.io/managed-by") == MANAGED_BY and notes.get(PACKAGE_KEY):
        return str(notes[PACKAGE_KEY])
    return None


def _safe_load(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return None
