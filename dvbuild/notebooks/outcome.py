"""What happened in an executed notebook, read from the notebook itself (pure functions).

Papermill inserts a cell for the injected parameters and, on failure, two marker
cells, so its `cell_index` is not the index the author sees. Before execution
every source cell is tagged with its own index in `metadata.dvbuild`; the
mapping back is then exact, whatever papermill inserted or removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SOURCE_KEY = "dvbuild_source_index"
MARKER_TAG = "papermill-error-cell-tag"
INJECTED_TAG = "injected-parameters"
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
CLEAN_EXITS = ("", "0", "None")


def strip_ansi(text: str) -> str:
    return ANSI_RE.sub("", text)


def tag_sources(nb: Any) -> None:
    for i, cell in enumerate(nb.cells):
        cell.metadata[SOURCE_KEY] = i


def untag_sources(nb: Any) -> None:
    for cell in nb.cells:
        cell.metadata.pop(SOURCE_KEY, None)


def source_index(cell: Any) -> int | None:
    value = cell.get("metadata", {}).get(SOURCE_KEY)
    return value if isinstance(value, int) else None


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def error_dict(cell: Any, ename: str, evalue: str, traceback: list[str]) -> dict[str, Any]:
    index = source_index(cell)
    return {
        "cell_index": index,
        "cell_number": None if index is None else index + 1,
        "source": _source(cell),
        "ename": ename,
        "evalue": evalue,
        "traceback": strip_ansi("\n".join(traceback)),
    }


def is_clean_exit(output: Any) -> bool:
    """sys.exit(0) and a bare SystemExit stop a notebook without failing it (as papermill)."""
    return bool(output.get("ename") == "SystemExit" and str(output.get("evalue", "")) in CLEAN_EXITS)


def find_error(nb: Any, replies: Mapping[int, Any] | None = None) -> dict[str, Any] | None:
    """The first error output (or papermill's exception flag) in the executed notebook.
    `replies` maps id(cell) to the kernel's error reply, for errors that leave no error
    output (IPython prints a UsageError to stderr)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and not is_clean_exit(output):
                return error_dict(cell, str(output.get("ename", "")), str(output.get("evalue", "")),
                                  list(output.get("traceback", [])))
        if cell.get("metadata", {}).get("papermill", {}).get("exception") is True and not any(
            is_clean_exit(o) for o in cell.get("outputs", []) if o.get("output_type") == "error"
        ):
            reply = (replies or {}).get(id(cell)) or {}
            return error_dict(cell, str(reply.get("ename") or "CellExecutionError"),
                              str(reply.get("evalue") or ""), list(reply.get("traceback") or []))
    return None


def find_clean_exit(nb: Any) -> int | None:
    """The source index of a cell that stopped the notebook with sys.exit(0), if any."""
    for cell in nb.cells:
        if any(o.get("output_type") == "error" and is_clean_exit(o) for o in cell.get("outputs", [])):
            return source_index(cell)
    return None


def mark_stopped(nb: Any | None, running: Any | None, ename: str, evalue: str) -> dict[str, Any]:
    """Record a stop papermill does not mark (timeout, dead kernel): an error output on the
    running cell and a marker cell on top, as papermill does for a failing cell."""
    from nbformat import v4

    nbf: Any = v4
    if nb is None:
        return {"cell_index": None, "cell_number": None, "source": "", "ename": ename,
                "evalue": evalue, "traceback": f"{ename}: {evalue}"}
    cell = running if running is not None else _first_unfinished(nb)
    if cell is not None:
        cell.setdefault("outputs", []).append(nbf.new_output(
            "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    marker = nbf.new_markdown_cell(
        f'<span style="color:red; font-size:2em;">dvbuild stopped this notebook: {ename}: '
        f"{evalue}</span>")
    marker.metadata["tags"] = [MARKER_TAG]
    nb.cells.insert(0, marker)
    if cell is None:
        return {"cell_index": None, "cell_number": None, "source": "", "ename": ename,
                "evalue": evalue, "traceback": f"{ename}: {evalue}"}
    return error_dict(cell, ename, evalue, [f"{ename}: {evalue}"])


def _first_unfinished(nb: Any) -> Any | None:
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and cell.get("execution_count") is None and _source(cell).strip():
            return cell
    return None
