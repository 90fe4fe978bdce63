"""The executed notebook, its HTML rendering and its script, written next to each other,
with every registered secret value replaced by *** before anything reaches disk."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from dvbuild import console


def redact_tree(value: Any) -> Any:
    """Every string in a JSON-like value, redacted (never a number, never the syntax)."""
    return console.redact_tree(value)


def redact_notebook(document: Any) -> Any:
    """A notebook's JSON, redacted: its multi-line strings (lists of lines on disk) joined
    first, so a PEM key printed in a cell is one string again; mime-type keys and the
    schema's own words (`output_type`, `cell_type`, a stream's `name`) stay."""
    return _redact_cells(console.redact_tree(join_lines(document), keys=False), document)


LISTS = ("traceback",)  # the schema wants these as lists of strings, never one string


def join_lines(value: Any, key: str | None = None) -> Any:
    """nbformat's lists of lines (every item but the last ends with a newline), joined
    (a multiline string may be either; an error's `traceback` stays a list)."""
    if isinstance(value, list):
        if key not in LISTS and len(value) > 1 and all(isinstance(v, str) for v in value) \
                and all(v.endswith("\n") for v in value[:-1]):
            return "".join(value)
        return [join_lines(v) for v in value]
    if isinstance(value, dict):
        return {k: join_lines(v, k) for k, v in value.items()}
    return value


_SCHEMA_WORDS = ("output_type", "cell_type", "name")


def _redact_cells(redacted: Any, original: Any) -> Any:
    """The schema's words put back where redaction changed them (the scan still sees them)."""
    for cell, before in zip(redacted.get("cells", []), original.get("cells", []), strict=False):
        _restore(cell, before)
        for out, was in zip(cell.get("outputs", []), before.get("outputs", []), strict=False):
            _restore(out, was)
    return redacted


def _restore(redacted: Any, original: Any) -> None:
    if isinstance(redacted, dict) and isinstance(original, dict):
        for key in _SCHEMA_WORDS:
            if isinstance(original.get(key), str):
                redacted[key] = original[key]


def write_outputs(nb: Any, path: Path, original_files: set[Path]) -> tuple[str, str, list[str]]:
    """Write the executed notebook over `path`, plus `.html` and the script; returns
    (html name, script name, warnings), the names relative to the notebook's folder.

    Metadata that nbformat's schema rejects (a kernelspec without display_name, tags
    that are not a list …) never costs the executed copy: the .ipynb is written as it
    is, and the HTML and script are exported from a copy without the offending keys."""
    import nbformat as nbformat_module

    nbformat: Any = nbformat_module
    problem = schema_problem(nb)
    clean = nbformat.reads(json.dumps(redact_notebook(json.loads(_dumps(nb)))), as_version=4,
                           capture_validation_error={})
    path.write_text(_dumps(clean), encoding="utf-8")
    warnings = [f"{path.name}: {problem}; the executed notebook is kept as it is, its HTML "
                "and script are rendered without that metadata"] if problem else []
    export = _exportable(clean) if problem else clean
    html = path.with_suffix(".html")
    html.write_text(console.redact(_export(export, "html")[0]), encoding="utf-8")
    script_text, ext = _export(export, "script")
    script = path.with_suffix(ext or ".py")
    if script in original_files:  # never overwrite the package's own module
        script = path.with_name(f"{path.stem}.nbconvert{ext or '.py'}")
    script.write_text(console.redact(script_text), encoding="utf-8")
    return html.name, script.name, warnings


def _dumps(nb: Any) -> str:
    """nbformat's JSON, without raising on a schema error (schema_problem reports it)."""
    import nbformat as nbformat_module

    nbformat: Any = nbformat_module
    return str(nbformat.writes(nb, capture_validation_error={}))


def schema_problem(nb: Any) -> str | None:
    """nbformat's first objection to the notebook, as one line (None: it is valid)."""
    import nbformat as nbformat_module

    nbformat: Any = nbformat_module
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "the notebook"
        return f"metadata nbformat rejects at {where}: {str(e.message).splitlines()[0]}"
    return None


def _exportable(nb: Any, attempts: int = 50) -> Any:
    """A copy without the metadata keys nbformat rejects (nbconvert validates first)."""
    import copy

    import nbformat as nbformat_module

    nbformat: Any = nbformat_module
    nb = copy.deepcopy(nb)
    for _ in range(attempts):
        try:
            nbformat.validate(nb)
            return nb
        except nbformat.ValidationError as e:
            if not _drop_metadata(nb, list(e.absolute_path)):
                break
    return nb  # not a metadata problem: the export says why


def _drop_metadata(nb: Any, where: list[Any]) -> bool:
    if "metadata" not in where:
        return False
    at = len(where) - 1 - where[::-1].index("metadata")
    owner = nb
    for key in where[:at + 1]:
        owner = owner[key]
    if at + 1 < len(where):
        owner.pop(where[at + 1], None)
    else:
        owner.clear()
    return True


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
    plain = json.loads(json.dumps(document, default=str))  # what default=str makes is masked too
    path.write_text(json.dumps(redact_tree(plain), indent=2) + "\n", encoding="utf-8")
