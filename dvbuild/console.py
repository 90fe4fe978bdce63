"""Where dvbuild talks: logs and progress to stderr, one JSON document to stdout.

Under GitHub Actions it also speaks the runner's workflow commands
(::group::, ::error file=..::, ::add-mask::), and only those: untrusted text in
them is escaped (`escape_data`, `escape_property`), and a line of human output
or JSON never reads as a workflow command (`_inert`). Secrets registered with
`mask()` are replaced by *** in everything written through this module, in every
encoding a run can give them (`forms`), and inside JSON strings only (`redact_tree`).
A value `weakness()` names (short, a number, a common word) is never replaced: that
would corrupt paths and numbers. notebooks/leaks.py fails a package whose output holds one.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, TextIO

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
    output, and so is each line of a multi-line one (a PEM key printed line by line) and
    each string of a JSON one (a service account's key).
    A weak value (`weakness`) is not registered: output holding it fails instead."""
    if not value or weakness(value) or value in _masked:
        return
    _masked.add(value)
    for part in _parts(value):
        mask(part)
    if _in_actions:
        for line in value.splitlines():
            if line.strip():
                # The runner reads workflow commands from stderr too; stdout stays
                # clean for --json.
                _write(sys.stderr, f"::add-mask::{line}")


def _parts(value: str) -> set[str]:
    """What a notebook may print of a value on its own: each line, and each string of a
    JSON document (a service account's private_key)."""
    parts = {line.strip() for line in value.splitlines()}
    if value.lstrip()[:1] in ("{", "["):
        with suppress(ValueError):
            parts |= set(string_leaves(json.loads(value)))
    return parts - {value, ""}


def string_leaves(value: Any) -> Iterator[str]:
    """The strings of a JSON value, not its keys."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | dict):
        for v in value.values() if isinstance(value, dict) else value:
            yield from string_leaves(v)


def forms(value: str) -> set[str]:
    """`value` as a run may write it: raw, with CRLF line ends, JSON- or Python-escaped
    (also pandas' `\\/`), CSV-quoted (`""`), URL-encoded, and each of the first three
    HTML-escaped (`&lt;`, `&amp;`, `&quot;`/`&#34;`, `&#x27;`/`&#39;`)."""
    import html  # here, not at the top: `dvbuild detect` imports console and masks nothing
    from urllib.parse import quote

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


# The runner reads a workflow command from any line of stdout or stderr that starts
# with `::` (after spaces) or holds `##[` (the old form), and ends lines at CR as at LF.
def escape_data(text: str) -> str:
    """A workflow command's message, or untrusted text in an output line: `%`, CR and LF
    escaped as GitHub documents, so it stays on its line; and `##[` (the runner tries the
    old form on a line the new one does not parse, `::group::` among them)."""
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.replace("##[", "##%5B")


def escape_property(text: str) -> str:
    """A workflow command's property value (`file=`): also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def untrusted(text: object) -> str:
    """Text from outside (a path, a name, a message) for a human output line: under GitHub
    Actions escaped with `escape_data`, so it never becomes a line of its own."""
    return escape_data(str(text)) if _in_actions else str(text)


def _inert(text: str) -> str:
    """Under GitHub Actions, output lines that are no workflow command, whatever found its
    way into them: only annotate, group and mask write commands."""
    if not _in_actions:
        return text
    lines = []
    for line in text.replace("\r", "%0D").split("\n"):
        indent = len(line) - len(line.lstrip())
        if line[indent:].startswith("::"):
            line = line[:indent] + "%3A" + line[indent + 1:]
        lines.append(line.replace("##[", "##%5B"))
    return "\n".join(lines)


def log(message: str) -> None:
    _write(sys.stderr, _inert(redact(message)))


def echo(message: str) -> None:
    """Human output on stdout (not used with --json)."""
    _write(sys.stdout, _inert(redact(message)))


def emit_json(document: Any) -> None:
    """One JSON document, masked inside its strings: never a number, never its syntax."""
    plain = json.loads(json.dumps(document, default=str))
    text = json.dumps(redact_tree(plain), indent=2, sort_keys=False)
    # `#` occurs only inside JSON strings, where \u0023 is the same character
    _write(sys.stdout, text.replace("##[", "#\\u0023[") if _in_actions else text)


def annotate(level: str, message: str, file: str = "", line: int | None = None) -> None:
    """An ::error/::warning annotation under GitHub Actions, a plain log line elsewhere."""
    if not _in_actions:
        return
    props = []
    if file:
        props.append(f"file={escape_property(redact(file))}")
    if line is not None:
        props.append(f"line={int(line)}")
    head = f"::{level} {','.join(props)}::" if props else f"::{level}::"
    _write(sys.stderr, head + escape_data(redact(message)))


@contextmanager
def group(title: str) -> Iterator[None]:
    if _in_actions:
        _write(sys.stderr, f"::group::{escape_data(redact(title))}")
    try:
        yield
    finally:
        if _in_actions:
            _write(sys.stderr, "::endgroup::")
