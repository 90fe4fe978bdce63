"""The executed notebook, its HTML rendering and its script, written next to each other,
with every registered secret value replaced by *** before anything reaches disk."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from dvbuild import console

TEXT_SUFFIXES = {".ipynb", ".html", ".py", ".json", ".txt", ".log", ".md", ".r", ".jl", ".csv",
                 ".tsv", ".yaml", ".yml"}
MAX_SWEEP_BYTES = 256 * 1024 * 1024


def redact_tree(value: Any) -> Any:
    """Every string in a JSON-like value, redacted."""
    if isinstance(value, str):
        return console.redact(value)
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items()}
    return value


def write_outputs(nb: Any, path: Path, original_files: set[Path]) -> tuple[str, str]:
    """Write the executed notebook over `path`, plus `.html` and the script; returns
    (html name, script name) relative to the notebook's folder."""
    import nbformat as nbformat_module

    nbformat: Any = nbformat_module
    clean = nbformat.reads(json.dumps(redact_tree(json.loads(nbformat.writes(nb)))), as_version=4)
    nbformat.write(clean, str(path))
    html = path.with_suffix(".html")
    html.write_text(console.redact(_export(clean, "html")[0]), encoding="utf-8")
    script_text, ext = _export(clean, "script")
    script = path.with_suffix(ext or ".py")
    if script in original_files:  # never overwrite the package's own module
        script = path.with_name(f"{path.stem}.nbconvert{ext or '.py'}")
    script.write_text(console.redact(script_text), encoding="utf-8")
    return html.name, script.name


@functools.cache
def _exporter(kind: str) -> Any:
    # building an exporter loads its templates: once per worker, not once per notebook
    import nbconvert

    exporters: Any = nbconvert
    return exporters.HTMLExporter() if kind == "html" else exporters.ScriptExporter()


def _export(nb: Any, kind: str) -> tuple[str, str]:
    body, resources = _exporter(kind).from_notebook_node(nb)
    return body, str(resources.get("output_extension") or "")


def write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(redact_tree(document), indent=2, default=str) + "\n", encoding="utf-8")


def sweep(folder: Path) -> None:
    """Last line of defence: redact text files a crashed worker may have left behind."""
    if not console.masked_values():
        return
    for file in folder.rglob("*"):
        if not file.is_file() or file.suffix.lower() not in TEXT_SUFFIXES:
            continue
        if file.stat().st_size > MAX_SWEEP_BYTES:
            continue
        raw = file.read_bytes()
        if not any(v.encode() in raw for v in console.masked_values()):
            continue
        text = raw.decode("utf-8", errors="surrogateescape")
        file.write_bytes(console.redact(text).encode("utf-8", errors="surrogateescape"))
