"""Where a JSON pointer sits in a JSON text: line and column, from one token scan.

json.loads forgets positions, and only invalid descriptors need them, so this
runs only when there is a problem to report. The scan is iterative (deeply
nested input cannot exhaust the stack) and records only the pointers asked
for and their ancestors, so a problem that points at a missing key still gets
the line of the nearest object that should have held it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.S)


@dataclass
class _Frame:
    kind: str  # "{" or "["
    pointer: str
    index: int = 0
    expect_key: bool = True
    key_pointer: str = ""
    keys: dict[str, int] = field(default_factory=dict)  # key -> offset, for duplicates


@dataclass
class _Scan:
    wanted: set[str]
    found: dict[str, int] = field(default_factory=dict)  # pointer -> offset
    stack: list[_Frame] = field(default_factory=list)
    twice: list[tuple[str, int, int]] = field(default_factory=list)  # (pointer, offset, first)

    def note(self, pointer: str, offset: int) -> None:
        if pointer in self.wanted and pointer not in self.found:
            self.found[pointer] = offset

    def value_pointer(self, offset: int) -> str:
        if not self.stack:
            self.note("", offset)
            return ""
        top = self.stack[-1]
        if top.kind == "[":
            pointer = f"{top.pointer}/{top.index}"
            self.note(pointer, offset)
            return pointer
        return top.key_pointer

    def feed(self, token: str, offset: int) -> None:
        top = self.stack[-1] if self.stack else None
        if token in ("}", "]"):
            if self.stack:
                self.stack.pop()
        elif token == ",":
            if top is not None and top.kind == "[":
                top.index += 1
            elif top is not None:
                top.expect_key = True
        elif token == ":":
            return
        elif top is not None and top.kind == "{" and top.expect_key:
            key = _key(token)
            top.key_pointer = f"{top.pointer}/{escape(key)}"
            top.expect_key = False
            if key in top.keys:
                self.twice.append((top.key_pointer, offset, top.keys[key]))
            top.keys.setdefault(key, offset)
            self.note(top.key_pointer, offset)
        else:
            pointer = self.value_pointer(offset)
            if token in ("{", "["):
                self.stack.append(_Frame(token, pointer))


def escape(key: str) -> str:
    """One JSON pointer reference token (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _key(token: str) -> str:
    try:
        return str(json.loads(token))
    except ValueError:
        return token.strip('"')


def _ancestors(pointer: str) -> list[str]:
    parts = pointer.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def positions(text: str, pointers: Iterable[str]) -> dict[str, tuple[int, int]]:
    """pointer -> (line, column), 1-based, for each pointer asked for. A pointer that is
    not in the text gets the position of its nearest ancestor that is."""
    asked = list(dict.fromkeys(pointers))
    wanted = {a for p in asked for a in _ancestors(p)}
    scan = _Scan(wanted)
    for match in _TOKEN.finditer(text):
        scan.feed(match.group(), match.start())
    result = {}
    for pointer in asked:
        offset = next((scan.found[a] for a in _ancestors(pointer) if a in scan.found), None)
        if offset is not None:
            result[pointer] = _line_col(text, offset)
    return result


def duplicate_keys(text: str) -> list[tuple[str, tuple[int, int], int]]:
    """Keys given twice in one object of a JSON text: (pointer, (line, column) of the
    repeat, line of the first), in text order."""
    scan = _Scan(set())
    for match in _TOKEN.finditer(text):
        scan.feed(match.group(), match.start())
    return [(pointer, _line_col(text, offset), _line_col(text, first)[0])
            for pointer, offset, first in scan.twice]


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def yaml_positions(text: str, pointers: Iterable[str]) -> dict[str, tuple[int, int]]:
    """The same for a YAML text (dvbuild.yaml): pointer -> (line, column) of its key."""
    import yaml

    from dvbuild.validate.yamlio import compose

    try:  # yamlio's loader: an alias (`a: &a [*a]`) would make this walk endless
        node = compose(text)
    except (yaml.YAMLError, RecursionError):
        return {}
    found: dict[str, tuple[int, int]] = {}
    todo: list[tuple[str, Any]] = [("", node)] if node is not None else []
    while todo:
        pointer, current = todo.pop()
        mark = current.start_mark
        found.setdefault(pointer, (mark.line + 1, mark.column + 1))
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                child = f"{pointer}/{escape(str(key.value))}"
                found[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                todo.append((child, value))
        elif isinstance(current, yaml.SequenceNode):
            todo.extend((f"{pointer}/{i}", item) for i, item in enumerate(current.value))
    result = {}
    for pointer in pointers:
        hit = next((found[a] for a in _ancestors(pointer) if a in found), None)
        if hit is not None:
            result[pointer] = hit
    return result
