"""The one YAML reader (dvbuild.yaml, datapackage.yaml): JSON data, safely.

PyYAML's safe loader still takes what a descriptor must not hold: aliases
(`a: &a [*a]` and the "billion laughs" expand without bound once anything walks
them), duplicate keys (the last silently wins), and values JSON has no form for
(dates, sets, binary, NaN, non-string keys). Each is a ConfigError naming the file,
the JSON pointer and the line. Dates stay strings (`created: 2024-01-01` is
what the Data Package spec means). Imported only when a YAML file is read.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from dvbuild.errors import ConfigError, Problem
from dvbuild.util import has_surrogate

TIMESTAMP = "tag:yaml.org,2002:timestamp"
MAX_INT_BITS = 10_000  # ~3000 decimal digits: below Python's int-to-str limit (4300)


def escape(key: str) -> str:
    """One JSON pointer token (RFC 6901); validate.positions has the same, but importing
    it would cost detect's fast path the dataclasses import."""
    return key.replace("~", "~0").replace("/", "~1")


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases and without implicit dates."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not supported: write the value out", mark)
        return super().compose_node(parent, index)


def _int(loader: _Loader, node: yaml.ScalarNode) -> int:
    """An int Python can print: str() refuses more than 4300 digits (and a hex int
    that long in decimal), and every message that quotes the value would crash."""
    try:
        value: int = loader.construct_yaml_int(node)
    except ValueError:
        value = 1 << MAX_INT_BITS
    if value.bit_length() >= MAX_INT_BITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {len(str(node.value))} characters is too large", node.start_mark)
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def compose(text: str) -> yaml.Node | None:
    """The node tree, for positions: the same loader, so no alias is ever followed."""
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def parse_yaml_object(text: str, file: str, *, what: str = "a mapping") -> dict[str, Any]:
    """One YAML mapping as JSON data; an empty file is an empty mapping."""
    try:
        loader = _Loader(text)  # its reader refuses control characters here already
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise ConfigError(Problem(file, f"invalid YAML: character #x{e.character:04x} is not allowed",
                                  line=line, column=e.position - text.rfind("\n", 0, e.position),
                                  expected=what)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        marks = _marks(node, file, what)
        data = loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(Problem(file, f"invalid YAML: {problem}",
                                  line=mark.line + 1 if mark else None,
                                  column=mark.column + 1 if mark else None,
                                  expected=what)) from None
    except RecursionError:  # PyYAML composes recursively
        raise ConfigError(Problem(file, "YAML nested too deeply",
                                  expected=f"{what} nested at most a few hundred levels")) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(Problem(file, f"top level is {type(data).__name__}", line=1,
                                  expected=what))
    _check_json(data, file, marks)
    return data


def _marks(root: yaml.Node, file: str, what: str) -> dict[str, tuple[int, int]]:
    """pointer -> (line, column) of every node; a key given twice in one mapping is a
    ConfigError naming both lines. Iterative: no depth limit of its own."""
    marks: dict[str, tuple[int, int]] = {}
    problems = []
    todo: list[tuple[str, yaml.Node]] = [("", root)]
    while todo:
        pointer, node = todo.pop()
        marks.setdefault(pointer, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                child = f"{pointer}/{escape(str(key.value))}"
                line, column = key.start_mark.line + 1, key.start_mark.column + 1
                ident = (key.tag, str(key.value))
                if ident in seen:
                    problems.append(Problem(file, f"key {key.value!r} is given twice in the "
                                            f"same mapping (first at line {seen[ident]})", child,
                                            line, column, expected=f"{what} with unique keys"))
                    continue
                seen[ident] = line
                marks[child] = (line, column)
                todo.append((child, value))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((f"{pointer}/{i}", item) for i, item in enumerate(node.value))
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))
    return marks


def _check_json(data: Any, file: str, marks: dict[str, tuple[int, int]]) -> None:
    """Every value must be one JSON has: the descriptor is published as JSON."""
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        pointer, value = todo.pop()
        why = None
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    why = f"key {key!r} is not a string (quote it)"
                    break
                if has_surrogate(key):
                    why = "a key holds a lone UTF-16 surrogate (not Unicode text)"
                    break
                todo.append((f"{pointer}/{escape(key)}", item))
        elif isinstance(value, list):
            todo.extend((f"{pointer}/{i}", item) for i, item in enumerate(value))
        elif isinstance(value, str) and has_surrogate(value):
            why = "a string holds a lone UTF-16 surrogate (not Unicode text)"
        elif isinstance(value, float) and not math.isfinite(value):
            why = f"{value} is not a JSON number"
        elif not isinstance(value, (str, int, float, type(None))):
            why = f"a {type(value).__name__} value has no JSON form (quote it)"
        if why:
            line, column = marks.get(pointer, (None, None))
            raise ConfigError(Problem(file, why, pointer, line, column,
                                      expected="JSON data: strings, numbers, true/false, "
                                               "null, lists and mappings"))
