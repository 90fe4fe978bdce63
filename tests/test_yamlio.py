"""The one YAML reader: JSON data only, no aliases, no duplicate keys (issue #13)."""

from __future__ import annotations

import pytest

from dvbuild.errors import ConfigError
from dvbuild.validate.yamlio import parse_yaml_object


def refused(text: str) -> tuple[str, str, int | None]:
    with pytest.raises(ConfigError) as e:
        parse_yaml_object(text, "datapackage.yaml")
    p = e.value.problems[0]
    assert e.value.exit_code == 2 and p.file == "datapackage.yaml"
    return p.message, p.pointer, p.line


def test_plain_mapping_is_json_data() -> None:
    text = "name: x\ncreated: 2023-09-25\nresources:\n  - {name: a, path: a.csv, bytes: 3}\n"
    assert parse_yaml_object(text, "f") == {
        "name": "x", "created": "2023-09-25",  # dates stay the strings they are in JSON
        "resources": [{"name": "a", "path": "a.csv", "bytes": 3}]}
    assert parse_yaml_object("", "f") == {}


@pytest.mark.parametrize("bomb", [
    "a: &a [*a]\n",
    "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n",  # billion laughs, in small
    "base: &base {x: 1}\nother:\n  <<: *base\n",
])
def test_aliases_are_refused(bomb: str) -> None:
    message, _, line = refused(bomb)
    assert "aliases (*name) are not supported" in message
    assert line is not None


def test_duplicate_keys_name_pointer_and_both_lines() -> None:
    message, pointer, line = refused("name: x\nresources:\n  - name: a\n    path: a.csv\n"
                                     "    name: b\n")
    assert (pointer, line) == ("/resources/0/name", 5)
    assert message == "key 'name' is given twice in the same mapping (first at line 3)"


@pytest.mark.parametrize("text, pointer, says", [
    ("x: .nan\n", "/x", "nan is not a JSON number"),
    ("x: !!binary aGVsbG8=\n", "/x", "no JSON form"),
    ("x: !!set {a}\n", "/x", "no JSON form"),
    ("1: a\n", "", "key 1 is not a string"),
])
def test_values_json_cannot_hold_are_refused(text: str, pointer: str, says: str) -> None:
    message, found, _ = refused(text)
    assert says in message and found == pointer


def test_unsafe_tags_syntax_and_shape() -> None:
    assert "could not determine a constructor" in refused("a: !!python/object:os.system x\n")[0]
    assert refused("a: [\n")[0].startswith("invalid YAML")
    assert refused("- 1\n")[0] == "top level is list"
    assert refused("[" * 5000 + "]" * 5000)[0] == "YAML nested too deeply"
