"""Where dvbuild talks: logs and progress to stderr, one JSON document to stdout.

Under GitHub Actions it also speaks the runner's workflow commands
(::group::, ::error file=..::, ::add-mask::). Secrets registered with
`mask()` are replaced by *** in everything written through this module, in every
encoding a run can give them (`forms`), and inside JSON strings only (`redact_tree`).
A value `weakness()` names (short, a number, a common word) is never replaced: that
would corrupt paths and numbers. notebooks/leaks.py fails a package whose output holds one.
"""

from __future__ import annotations

import functools
import html
import json
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO
from urllib.parse import quote

MIN_MASKED = 6  # shorter values are scanned for, never replaced
TOO_SHORT = 3  # shorter values are neither: they cannot be told from anything else
COMMON_WORDS = frozenset({
    "admin", "changeme", "database", "default", "localhost", "password", "postgres",
    "private", "production", "public", "secret", "staging", "development", "example",
    "false", "none", "null", "true", "test", "user", "username", "value", "dataset",
    # what dvbuild's own documents and notebooks are made of
    "passed", "failed", "timed_out", "invalid", "skipped", "stream", "stdout", "stderr",
    "display_data", "execute_result", "python", "python3", "markdown",
})

_masked: set[str] = set()
_in_actions = False


def configure(*, github_actions: bool) -> None:
    global _in_actions
    _in_actions = github_actions


def weakness(value: str) -> str | None:
    """Why replacing `value` by *** would corrupt output (`DB_USER=data` turns the path
    `data/x.csv` into `***/x.csv`, `100` turns `"rows": 100` into invalid JSON); None: it
    is masked."""
    if len(value) < MIN_MASKED:
        return f"shorter than {MIN_MASKED} characters"
    try:
        float(value)
        return "a number"
    except ValueError:
        pass
    return "a common word" if value.strip().lower() in COMMON_WORDS else None


def mask(value: str) -> None:
    """Register a secret value: it and its encodings are replaced by *** in all further
    output, and so is each line of a multi-line one (a PEM key printed line by line).
    A weak value (`weakness`) is not registered: output holding it fails instead."""
    if not value or weakness(value):
        return
    _masked.add(value)
    _masked.update(line.strip() for line in value.splitlines()
                   if line.strip() != value and not weakness(line.strip()))
    if _in_actions:
        for line in value.splitlines():
            if line.strip():
                # The runner reads workflow commands from stderr too; stdout stays
                # clean for --json.
                _write(sys.stderr, f"::add-mask::{line}")


def forms(value: str) -> set[str]:
    """`value` as a run may write it: raw, with CRLF line ends, JSON- or Python-escaped
    (also pandas' `\\/`), CSV-quoted (`""`), URL-encoded, and each of the first three
    HTML-escaped (`&lt;`, `&amp;`, `&quot;`/`&#34;`, `&#x27;`/`&#39;`)."""
    dumped = json.dumps(value)[1:-1]
    texts = {value, value.replace("\n", "\r\n"), dumped, dumped.replace("/", "\\/"),
             json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]}
    found = set(texts) | {value.replace('"', '""'), quote(value, safe="")}
    for text in texts:
        base = html.escape(text, quote=False)
        found |= {base.replace('"', dq).replace("'", sq)
                  for dq in ('"', "&quot;", "&#34;") for sq in ("'", "&#x27;", "&#39;")}
    return {f for f in found if f}


@functools.lru_cache(maxsize=8)
def _longest_first(values: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted({f for v in values for f in forms(v)}, key=len, reverse=True))


def masked_forms() -> tuple[str, ...]:
    """Every form of every registered value: what must not be left in any output."""
    return _longest_first(frozenset(_masked))


def redact(text: str) -> str:
    present = [f for f in masked_forms() if f in text]  # str.find is fast; most text has none
    if not present:
        return text
    return re.compile("|".join(map(re.escape, present))).sub("***", text)


def redact_tree(value: Any, *, keys: bool = True) -> Any:
    """Every string in a JSON-like value redacted, keys too (`keys`) unless that would
    merge two; numbers, booleans and the structure stay as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_tree(v, keys=keys) for v in value]
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = redact(k) if keys and isinstance(k, str) else k
            out[k if key != k and (key in value or key in out) else key] = redact_tree(v, keys=keys)
        return out
    return value


def masked_values() -> frozenset[str]:
    return frozenset(_masked)


def interactive(environ: Mapping[str, str]) -> bool:
    """A person watches stderr: a terminal, not CI (`CI`, GitHub Actions) nor a dumb one.
    Live displays are drawn then; plain lines otherwise."""
    return (sys.stderr.isatty() and not environ.get("CI")
            and environ.get("GITHUB_ACTIONS") != "true" and environ.get("TERM") != "dumb")


def _write(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def log(message: str) -> None:
    _write(sys.stderr, redact(message))


def echo(message: str) -> None:
    """Human output on stdout (not used with --json)."""
    _write(sys.stdout, redact(message))


def emit_json(document: Any) -> None:
    """One JSON document, masked inside its strings: never a number, never its syntax."""
    plain = json.loads(json.dumps(document, default=str))
    _write(sys.stdout, json.dumps(redact_tree(plain), indent=2, sort_keys=False))


def annotate(level: str, message: str, file: str = "", line: int | None = None) -> None:
    """An ::error/::warning annotation under GitHub Actions, a plain log line elsewhere."""
    if not _in_actions:
        return
    props = []
    if file:
        props.append(f"file={file}")
    if line is not None:
        props.append(f"line={line}")
    head = f"::{level} {','.join(props)}::" if props else f"::{level}::"
    escaped = redact(message).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    _write(sys.stderr, head + escaped)


@contextmanager
def group(title: str) -> Iterator[None]:
    if _in_actions:
        _write(sys.stderr, f"::group::{redact(title)}")
    try:
        yield
    finally:
        if _in_actions:
            _write(sys.stderr, "::endgroup::")
