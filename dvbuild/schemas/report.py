"""The JSON Schema of report.json (the `Report` TypedDict in dvbuild.notebooks.report).

`dvbuild comment` renders reports that, under `workflow_run`, a fork's run wrote: they
are checked against this schema before anything is rendered. It fixes the types the
renderer relies on and bounds every string and list; unknown keys are allowed (newer
reports may carry more).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MAX_BYTES = 32 * 1024 * 1024  # a report.json larger than this is refused unread

_NAME: dict[str, Any] = {"type": "string", "maxLength": 1000}
_TEXT: dict[str, Any] = {"type": "string", "maxLength": 100_000}
_COUNT: dict[str, Any] = {"type": ["integer", "null"], "minimum": 0}
_WORD: dict[str, Any] = {"type": ["string", "null"], "pattern": "^[a-z_]{0,32}$"}


def _null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _list(items: dict[str, Any], most: int = 10_000) -> dict[str, Any]:
    return {"type": "array", "items": items, "maxItems": most}


_ERROR = {
    "type": "object",
    "properties": {
        "cell_index": _COUNT, "cell_number": _COUNT, "source": _null(_TEXT),
        "ename": _null(_NAME), "evalue": _null(_TEXT), "hint": _null(_TEXT),
        "traceback": {"anyOf": [_list(_TEXT), _TEXT]},
    },
}
_NOTEBOOK = {
    "type": "object",
    "required": ["path"],
    "properties": {
        "path": _NAME, "status": _WORD, "duration": {"type": ["number", "null"], "minimum": 0},
        "html": _null(_NAME), "script": _null(_NAME), "error": _null(_ERROR),
    },
}
_SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": 100_000}
_RESOURCE = {
    "type": "object",
    "properties": {
        "name": _null(_NAME),
        "path": {"anyOf": [_NAME, _list(_NAME, 1000), {"type": "null"}]},
        "exists": {"type": ["boolean", "null"]}, "valid": {"type": ["boolean", "null"]},
        "bytes": _COUNT, "rows": _COUNT, "error_count": _COUNT,
        "more_errors": {"type": ["boolean", "null"]},
        "columns": _list({"type": "object", "properties": {
            "name": _null(_NAME), "type": _null(_NAME)}}, 1000),
        "preview": {"type": "object", "properties": {
            "columns": _list(_SCALAR, 1000),
            "rows": _list({"type": "array", "maxItems": 1000}, 1000),
        }},
        "errors": _list(_TEXT, 1000),
    },
}
_INPUT = {"type": "object", "properties": {
    "name": _NAME, "version": _NAME, "resource": _null(_NAME), "sha256": _null(_NAME)}}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "dvbuild report.json",
    "type": "object",
    "required": ["package", "path", "status", "duration", "notebooks", "resources",
                 "warnings", "error"],
    "properties": {
        "package": {"type": "string", "minLength": 1, "maxLength": 200},
        "path": _NAME,
        "status": {"enum": ["passed", "failed", "timed_out", "invalid", None]},
        "duration": {"type": "number", "minimum": 0},
        "commit": {"type": ["string", "null"], "pattern": "^[0-9a-f]{7,64}$"},
        "input_hash": _null(_NAME),
        "started": _NAME,
        "mode": {"enum": ["test", "production", "run"]},
        "parameters": {"type": "object"},
        "dvbuild_version": _NAME,
        "image": {"type": ["object", "null"]},
        "run_url": _null(_NAME),
        "notebooks": _list(_NOTEBOOK, 1000),
        "resources": _list(_RESOURCE, 1000),
        "inputs": _list(_INPUT),
        "warnings": _list(_TEXT, 1000),
        "error": _null(_TEXT),
    },
}


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(REPORT_SCHEMA)
    return Draft202012Validator(REPORT_SCHEMA)


def report_problems(document: Any, limit: int = 10) -> list[tuple[str, str]]:
    """(JSON pointer, message) for what is wrong with a report.json document, at most `limit`."""
    from dvbuild.validate.positions import escape

    found = []
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.path)))
    for error in map(_deepest, errors):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required":  # the missing key's own pointer
            path.append(error.message.split("'")[1] if error.message.count("'") >= 2 else "")
        found.append(("".join("/" + escape(part) for part in path), _message(error)))
    return found[:limit]


def _deepest(error: Any) -> Any:
    """Of an anyOf, the alternative that got furthest into the value (the precise one)."""
    while error.validator == "anyOf" and error.context:
        depth = len(error.absolute_path)
        deeper = [e for e in error.context if len(e.absolute_path) > depth]
        if not deeper:
            break
        error = max(deeper, key=lambda e: len(e.absolute_path))
    return error


def _message(error: Any) -> str:
    """A short message that never quotes the (untrusted, maybe huge) value."""
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        return "is missing"
    if kind == "type":
        return f"is {_json_type(error.instance)}, expected {_words(expected)}"
    if kind == "enum":
        return f"is not one of {', '.join(map(repr, expected))}"
    if kind in ("maxLength", "maxItems"):
        return f"is longer than {expected}"
    if kind == "pattern":
        return f"does not match {expected}"
    if kind == "minimum":
        return f"is below {expected}"
    if kind == "anyOf":
        types = [_words(e.validator_value) for e in error.context if e.validator == "type"]
        return f"is {_json_type(error.instance)}, expected {' or '.join(types) or 'another type'}"
    return f"fails {kind}"


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _words(expected: Any) -> str:
    return " or ".join(expected) if isinstance(expected, list) else str(expected)
