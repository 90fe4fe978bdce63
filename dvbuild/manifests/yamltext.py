"""YAML text in and out: values written as safe scalars, rendered manifests read back.

Writing goes through `yaml_scalar` only (the jinja environment's `finalize`), so no
value can add a key or a document. Reading is a safe load tuned for what the
templates write.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATES = re.compile(r"\\ud([89ab][0-9a-f]{2})\\ud([c-f][0-9a-f]{2})")
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")


def yaml_scalar(value: Any) -> str:
    """Any JSON value as YAML: a double-quoted ASCII string, a number, or a flow collection."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # PyYAML reads "1e+20"-style JSON floats back as strings
    text = json.dumps(value, ensure_ascii=True)
    # json writes astral characters as surrogate pairs; YAML wants one \U escape
    return _SURROGATES.sub(_join_surrogates, text) if "\\ud" in text else text


def _join_surrogates(m: re.Match[str]) -> str:
    high, low = int("d" + m[1], 16), int("d" + m[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"


class _Unusual(Exception):
    """A node the quick conversion does not handle; the full safe loader will."""


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, quicker for what the templates write: libyaml parses and resolves
    tags, then a small walk builds the objects (maps, lists, str, int, bool, null) instead
    of PyYAML's general constructor. Anything else goes through `yaml.safe_load` itself."""
    import yaml

    if not hasattr(yaml, "CSafeLoader"):
        return yaml.safe_load(text)
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:  # an empty document
        return None
    try:
        return _plain(node)
    except (_Unusual, TypeError):  # TypeError: a key that is a list or map
        return yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - safe loader


def _plain(node: Any) -> Any:
    tag, value = node.tag, node.value
    if tag == _TAG + "str":
        return value
    if tag == _TAG + "map":
        out = {_plain(k): _plain(v) for k, v in value}
        if len(out) != len(value) or any(k.tag == _TAG + "merge" for k, _ in value):
            raise _Unusual  # duplicate or merge keys: let PyYAML decide
        return out
    if tag == _TAG + "seq":
        return [_plain(v) for v in value]
    if tag == _TAG + "int" and _INT.match(value):
        return int(value)
    if tag == _TAG + "bool" and value in ("true", "false"):
        return value == "true"
    if tag == _TAG + "null" and value in ("null", "~", ""):
        return None
    raise _Unusual
