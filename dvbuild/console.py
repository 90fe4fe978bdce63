"""Where dvbuild talks: logs and progress to stderr, one JSON document to stdout.

Under GitHub Actions it also speaks the runner's workflow commands
(::group::, ::error file=..::, ::add-mask::). Secrets registered with
`mask()` are replaced by *** in everything written through this module.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_masked: set[str] = set()
_in_actions = False


def configure(*, github_actions: bool) -> None:
    global _in_actions
    _in_actions = github_actions


def mask(value: str) -> None:
    """Register a secret value: it is replaced by *** in all further output."""
    if not value or len(value) < 3:
        return
    _masked.add(value)
    if _in_actions:
        for line in value.splitlines():
            if line.strip():
                # The runner reads workflow commands from stderr too; stdout stays
                # clean for --json.
                _write(sys.stderr, f"::add-mask::{line}")


def redact(text: str) -> str:
    for value in sorted(_masked, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def masked_values() -> frozenset[str]:
    return frozenset(_masked)


def _write(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def log(message: str) -> None:
    _write(sys.stderr, redact(message))


def echo(message: str) -> None:
    """Human output on stdout (not used with --json)."""
    _write(sys.stdout, redact(message))


def emit_json(document: Any) -> None:
    _write(sys.stdout, redact(json.dumps(document, indent=2, sort_keys=False, default=str)))


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
