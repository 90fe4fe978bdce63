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


def cut_traceback(traceback: str | list[str], limit: int) -> tuple[list[str], int]:
    """A cell's traceback in about `limit` lines, colours stripped: the failing cell's own
    frame (IPython's first, `Cell In[4], line 2`) whole, a `… N lines left out …` line,
    then the innermost lines down to the error. Returns (lines, how many were left out).
    The CLI, `dvbuild run` and the PR comment all show tracebacks through this."""
    text = "\n".join(traceback) if isinstance(traceback, list) else str(traceback)
    lines = strip_ansi(text).splitlines()
    if len(lines) <= limit:
        return lines, 0
    if limit <= 0:
        return [], len(lines)
    head = _cell_frame(lines)
    if not head or len(head) > limit // 2:
        return lines[-limit:], len(lines) - limit
    start = len(lines) - (limit - len(head))
    # begin at a frame (after a blank line) rather than in the middle of one
    start = next((j for j in range(start, len(lines) - 1) if not lines[j - 1].strip()), start)
    tail = lines[start:]
    omitted = len(lines) - len(head) - len(tail)
    return [*head, f"… {omitted} lines left out …", *tail], omitted


def _cell_frame(lines: list[str]) -> list[str]:
    """The traceback's head down to the end of its first frame, when that is a cell's."""
    for i, line in enumerate(lines[:4]):
        if line.startswith(("Cell In[", "Input In [")):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
            return lines[:end]
    return []


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


def find_clean_exit(nb: Any) -> tuple[int | None, str] | None:
    """The cell that stopped the notebook with a clean SystemExit, if any: its source index
    and the exception as raised (`SystemExit`, `SystemExit(0)`), not as guessed."""
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error" and is_clean_exit(o):
                value = str(o.get("evalue", ""))
                return source_index(cell), f"SystemExit({value})" if value else "SystemExit"
    return None


def timeout_message(running: Any | None, limit: str) -> str:
    """`limit` is e.g. "the test_timeout of 600 s"; the cell is the one that was running."""
    index = None if running is None else source_index(running)
    what = "the notebook" if index is None else f"cell {index + 1}"
    return f"{what} exceeded {limit} (time allowed per notebook); dvbuild stopped the kernel"


MODULE_RE = re.compile(r"No module named '([^']+)'")


def add_hint(error: dict[str, Any] | None, package_path: str) -> None:
    """A missing module gets the fix: the package's requirements.txt."""
    if not error or error.get("ename") != "ModuleNotFoundError":
        return
    found = MODULE_RE.search(str(error.get("evalue", "")))
    module = found.group(1).split(".")[0] if found else "it"
    folder = "" if package_path in ("", ".") else package_path.rstrip("/") + "/"
    error["hint"] = f"add {module} to {folder}requirements.txt"


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
