"""The last sweep of a package's output folder, once nothing the run started is alive:
a secret value never stays in OUT/<name>/, and a run that would leak one fails.

    mask   a strong value (console.weakness() is None), in each of its forms
           (console.forms), in every text file: notebooks and JSON inside their
           strings (a notebook's lists of lines joined first), NDJSON line by line,
           anything else (CSV, HTML, XML, SVG, Markdown ...) form by form
    scan   what masking cannot reach: a strong value left in any file (parquet,
           feather, zip and gzip/bz2/xz files are also read decoded), and a weak
           value (short, a number, a common word: replacing it would corrupt paths
           and numbers) as a whole word in what the run produced: the notebooks'
           outputs and the text or table files the run wrote or changed
    fail   each file found is removed and named in report.json `leaks` (never the
           value); the package fails, so nothing publishes it, `dvbuild publish` too

A value shorter than console.TOO_SHORT is neither masked nor scanned for (it would
match everything); the package gets a warning naming its variable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvbuild import console
from dvbuild.notebooks.convert import join_lines, redact_notebook

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report

MAX_BYTES = 256 * 1024 * 1024  # larger files are scanned, never rewritten
OWN_FILES = {"report.json", ".dvbuild-inputs.jsonl"}  # dvbuild's, made of what is scanned
JSON_SUFFIXES = {".json", ".geojson", ".jsonld", ".ipynb", ".har"}
LINES_SUFFIXES = {".ndjson", ".jsonl"}
OUTPUT_FIELDS = ("text", "data", "ename", "evalue", "traceback")  # what a cell's output says

Leak = dict[str, str]  # {"path": relative to the package folder, "why": ...}


def warnings(secrets: Mapping[str, str]) -> list[str]:
    """What a run is told about secrets that cannot be masked (named, never quoted)."""
    found = []
    for var, value in sorted(secrets.items()):
        why = console.weakness(value)
        if len(value) < console.TOO_SHORT:
            found.append(f"secret {var}: its value is shorter than {console.TOO_SHORT} "
                         "characters; dvbuild can neither mask it nor find it in outputs")
        elif why:
            found.append(f"secret {var}: its value is {why}, so it is not masked (that would "
                         "corrupt paths and numbers); the run fails if an output holds it")
    return found


def baseline(folder: Path) -> dict[str, str]:
    """sha256 of each file of the fresh copy: what the run did not write."""
    return {rel: _sha256(path) for rel, path in _files(folder)}


def sweep(folder: Path, report: Report, secrets: Mapping[str, str],
          before: Mapping[str, str]) -> list[Leak]:
    """Mask, scan, and remove what would leak; the leaks are also recorded in `report`."""
    weak = {var: (_word_pattern(v), str(console.weakness(v))) for var, v in secrets.items()
            if len(v) >= console.TOO_SHORT and console.weakness(v)}
    if not console.masked_forms() and not weak:
        return []
    runs = report.get("notebooks", [])
    notebooks = {str(nb["path"]) for nb in runs}
    derived = OWN_FILES | {str(nb[k]) for nb in runs for k in ("html", "script") if nb.get(k)}
    leaks = []
    for rel, path in _files(folder):
        produced = rel not in derived and before.get(rel) != _sha256(path)
        why = _sweep_file(path, rel, weak if produced else {}, rel in notebooks)
        if why:
            leaks.append({"path": rel, "why": why})
    if leaks:
        _remove(folder, leaks, runs)
        record(report, leaks)
    return leaks


def record(report: Report, leaks: list[Leak]) -> None:
    report["leaks"] = leaks
    names = ", ".join(leak["path"] for leak in leaks)
    error = (f"a secret value would leak through {names} (removed; see report.json "
             "`leaks`): the package is not published")
    report["error"] = f"{error}; {report['error']}" if report.get("error") else error
    report["status"] = "failed" if report.get("status") in (None, "passed") else report["status"]
    gone = {leak["path"] for leak in leaks}
    for resource in report.get("resources", []):
        if resource.get("path") in gone:  # its preview and errors may quote the value
            for key in ("preview", "errors", "columns"):
                resource.pop(key, None)


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*")):
        # a link is not followed: its target outside is never rewritten, and publish
        # refuses a link that leaves the folder; one inside is swept as its target
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(folder).as_posix(), path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _word_pattern(value: str) -> re.Pattern[str]:
    forms = sorted(console.forms(value), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, forms)) + r")(?!\w)")


Weak = Mapping[str, tuple[re.Pattern[str], str]]  # env var -> (its value as a word, why weak)


def _sweep_file(path: Path, rel: str, weak: Weak, notebook: bool) -> str | None:
    strong = console.masked_forms()
    if path.stat().st_size > MAX_BYTES:
        return "holds a secret value (a file this large is scanned, never masked)" \
            if _in_big_file(path, strong) else None
    data = path.read_bytes()
    text = _text(data)
    if text is not None and any(f in text for f in strong):
        text = _masked(rel, text)
        data = text.encode("utf-8")
        path.write_bytes(data)
    if any(f.encode("utf-8") in data for f in strong):
        return ("holds a secret value in a binary file, which cannot be masked" if text is None
                else "holds a secret value where masking cannot reach it (a JSON key?)")
    decoded = _decoded(data) if text is None else []
    if any(f in d for d in decoded for f in strong):
        return "holds a secret value in a binary format, which cannot be masked"
    texts = [_outputs(text)] if notebook and text is not None else (
        [text] if text is not None else decoded)
    for var, (pattern, why) in weak.items():
        if any(pattern.search(t) for t in texts):
            return f"holds the value of secret {var}, which is {why} and so cannot be masked"
    return None


def _text(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _masked(rel: str, text: str) -> str:
    """`text` with every strong value masked, a JSON file inside its strings only."""
    suffix = Path(rel).suffix.lower()
    if suffix in LINES_SUFFIXES:
        return "".join(_masked_json(line, rel) for line in text.splitlines(keepends=True))
    if suffix in JSON_SUFFIXES or text.lstrip()[:1] in ("{", "["):
        return _masked_json(text, rel)
    return console.redact(text)


def _masked_json(text: str, rel: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:  # not JSON after all: masked as text
        return console.redact(text)
    notebook = rel.lower().endswith(".ipynb") and isinstance(document, dict)
    masked = redact_notebook(document) if notebook else console.redact_tree(document)
    indent = 1 if notebook else _indent(text)
    body = json.dumps(masked, ensure_ascii=False, indent=indent,
                      separators=None if indent is not None else (",", ":"))
    return body + text[len(text.rstrip()):]


def _indent(text: str) -> int | None:
    found = re.search(r"\n( +)\S", text)
    return len(found.group(1)) if found else (0 if "\n" in text.strip() else None)


def _outputs(text: str) -> str:
    """The strings of a notebook's outputs: what the run printed, displayed or raised
    (its sources and metadata are the package's own)."""
    try:
        document = join_lines(json.loads(text))
    except ValueError:
        return text
    cells = document.get("cells", []) if isinstance(document, dict) else []
    outputs = [o for c in cells if isinstance(c, dict) for o in c.get("outputs", [])
               if isinstance(o, dict)]
    return "\n".join(s for o in outputs for key in OUTPUT_FIELDS for s in console.string_leaves(o.get(key)))


def _decoded(data: bytes) -> list[str]:
    """What a binary file holds, as text: tables' names and values, archives' members."""
    try:
        if data[:4] == b"PAR1" or data[:6] == b"ARROW1":
            return _table_text(data)
        return _unpacked(data)
    except Exception:  # an unreadable file is scanned as its bytes only
        return []


def _table_text(data: bytes) -> list[str]:
    import pyarrow as pa

    if data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data))
    else:
        import pyarrow.ipc as ipc

        table = ipc.open_file(pa.BufferReader(data)).read_all()
    texts = [str(table.schema), json.dumps({str(k): str(v) for k, v in
                                            (table.schema.metadata or {}).items()})]
    for column in table.columns:
        try:
            values = column.cast(pa.string()).to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        texts.append("\n".join(v for v in values if v is not None))
    return texts


def _unpacked(data: bytes) -> list[str]:
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    if data[:2] == b"\x1f\x8b":
        inner = [gzip.decompress(data)]
    elif data[:3] == b"BZh":
        inner = [bz2.decompress(data)]
    elif data[:6] == b"\xfd7zXZ\x00":
        inner = [lzma.decompress(data)]
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inner = [z.read(i) for i in z.infolist() if i.file_size <= MAX_BYTES]
    else:
        return []
    found = []
    for member in inner:
        text = _text(member)
        found += [text] if text is not None else _decoded(member)
    return found


def _in_big_file(path: Path, forms: tuple[str, ...]) -> bool:
    needles = [f.encode("utf-8") for f in forms]
    overlap = max((len(n) for n in needles), default=1)
    tail = b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(16 << 20), b""):
            window = tail + block
            if any(n in window for n in needles):
                return True
            tail = window[-overlap:]
    return False


def _remove(folder: Path, leaks: list[Leak], runs: list[dict[str, Any]]) -> None:
    """A leaking file goes, and with an executed notebook its HTML and script."""
    gone = {leak["path"] for leak in leaks}
    for nb in runs:
        if nb.get("path") in gone:
            gone |= {str(nb[k]) for k in ("html", "script") if nb.get(k)}
    for rel in gone:
        (folder / rel).unlink(missing_ok=True)
