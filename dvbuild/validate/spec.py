"""The Frictionless Data Package checks, with a fast path.

frictionless-py takes ~0.5 s to import and ~1.5 ms per descriptor, too slow for
`dvbuild validate` over a thousand packages. Most descriptors use a small,
plain subset of the spec (names, paths, formats, stats and simple Table
Schemas), and for that subset the rules below give frictionless's verdict
(tests/test_validate.py checks that they agree). A descriptor that uses
anything else (`$schema`, `profile`, inline `data`, dialects, constraints,
foreign keys, multipart paths, ...) is handed to frictionless itself, imported
on first use.

Each check yields (pointer, message, expected).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

Issue = tuple[str, str, str]

RESOURCE_NAME_RE = re.compile(r"^([-a-z0-9._/])+$")
FIELD_TYPES = frozenset({
    "string", "number", "integer", "boolean", "object", "array", "date", "time", "datetime",
    "year", "yearmonth", "duration", "geopoint", "geojson", "any",
})
# keys frictionless has rules for beyond the fast path's: their presence sends the
# descriptor to frictionless
SLOW_TOP = frozenset({"$schema", "profile", "id", "image", "created", "contributors", "sources",
                      "missingValues", "fields"})  # the last two: "set them on a schema"
FAST_RESOURCE = frozenset({"name", "path", "type", "title", "description", "format", "mediatype",
                           "encoding", "bytes", "hash", "rows", "fields", "schema", "scheme"})
FAST_FIELD = frozenset({"name", "type", "title", "description"})
STRING_TOP = ("title", "description", "version", "homepage")
STRING_RESOURCE = ("title", "description", "format", "mediatype", "encoding", "scheme", "hash")
INT_RESOURCE = ("bytes", "rows", "fields")


def is_fast(descriptor: Mapping[str, Any]) -> bool:
    """Whether the fast rules alone decide this descriptor."""
    if SLOW_TOP & descriptor.keys():
        return False
    resources = descriptor.get("resources")
    if not isinstance(resources, list):
        return True
    return all(_fast_resource(r) for r in resources)


def _fast_resource(resource: Any) -> bool:
    if not isinstance(resource, dict) or not FAST_RESOURCE.issuperset(resource):
        return False
    if "path" in resource and not isinstance(resource["path"], str):
        return False  # a v1 multipart path: frictionless knows how to read those
    if "type" in resource and resource["type"] != "table":
        return False
    schema = resource.get("schema")
    if schema is None:
        return True
    if not isinstance(schema, dict) or set(schema) != {"fields"}:
        return False
    fields = schema["fields"]
    return not isinstance(fields, list) or all(
        isinstance(f, dict) and FAST_FIELD.issuperset(f) for f in fields)


def problems(descriptor: Mapping[str, Any], folder: Path | None = None) -> list[Issue]:
    """The spec's verdict on a descriptor; `folder` resolves a resource's schema or dialect
    given as a relative file path."""
    if is_fast(descriptor):
        return list(fast_problems(descriptor))
    refused = list(references(descriptor))
    if refused:  # never let frictionless fetch a URL or read outside the folder
        taken = {pointer for pointer, _, _ in refused}
        rest = problems(_without(descriptor, taken), folder)  # the rest, checked as usual
        return refused + [i for i in rest if i[0] not in taken]
    return frictionless_problems(descriptor, folder)


def _without(d: Mapping[str, Any], pointers: set[str]) -> dict[str, Any]:
    """A copy without the refused references: a schema reference becomes an empty schema
    (a tabular resource needs one), any other (profile, `$schema`, dialect) goes."""
    import copy

    clean = copy.deepcopy(dict(d))
    for pointer in pointers:
        *parents, key = pointer.split("/")[1:]
        node: Any = clean
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if key == "schema":
            node[key] = {"fields": []}
        else:
            node.pop(key, None)
    return clean


# -- references frictionless would follow: profiles, `$schema`s, schema/dialect files ----

PROFILES = {
    "": frozenset({"data-package", "tabular-data-package"}),
    "resource": frozenset({"data-resource", "tabular-data-resource"}),
    "schema": frozenset({"tableschema", "table-schema"}),
    "dialect": frozenset({"csvdialect", "table-dialect"}),
}
_STANDARD = re.compile(r"^https://datapackage\.org/profiles/\d+\.\d+/[a-z-]+\.json$")


def references(d: Mapping[str, Any]) -> Iterator[Issue]:
    """Profiles, `$schema`s and file references frictionless would fetch or read: only the
    standard ones and relative paths inside the folder are allowed."""
    yield from _profiles(d, "", "")
    resources = d.get("resources")
    for i, r in enumerate(resources if isinstance(resources, list) else []):
        if not isinstance(r, dict):
            continue
        at = f"/resources/{i}"
        yield from _profiles(r, at, "resource")
        for key in ("schema", "dialect"):
            value = r.get(key)
            if isinstance(value, dict):
                yield from _profiles(value, f"{at}/{key}", key)
            elif isinstance(value, str) and _unsafe(value):
                yield f"{at}/{key}", f"{key} refers to {value!r}", \
                    f"the {key} inline, or a relative path to a file inside the package folder"


def _profiles(d: Mapping[str, Any], at: str, kind: str) -> Iterator[Issue]:
    for key in ("profile", "$schema"):
        value = d.get(key)
        if value is None:
            continue
        ok = isinstance(value, str) and (value in PROFILES[kind] or _STANDARD.match(value))
        if not ok:
            names = ", ".join(sorted(PROFILES[kind]))
            yield f"{at}/{key}", f"{key} is {_short(value)}: custom profiles are not supported", \
                f"{names} or a https://datapackage.org/profiles/<version>/ URL"


def _unsafe(path: str) -> bool:
    pure = PurePosixPath(path.replace("\\", "/"))
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path)) or pure.is_absolute() \
        or ".." in pure.parts


def fast_problems(d: Mapping[str, Any]) -> Iterator[Issue]:
    yield from _strings(d, "", STRING_TOP)
    keywords = d.get("keywords")
    if keywords is not None:
        if not isinstance(keywords, list):
            yield "/keywords", f"keywords is {_kind(keywords)}", "a list of strings"
        else:
            for i, k in enumerate(keywords):
                if not isinstance(k, str):
                    yield f"/keywords/{i}", f"keyword is {_kind(k)}", "a string"
    yield from _licenses(d.get("licenses"))
    if "resources" not in d:
        yield "/resources", "resources is missing", "a list of resources (may be empty)"
        return
    resources = d["resources"]
    if not isinstance(resources, list):
        yield "/resources", f"resources is {_kind(resources)}", "a list of resources"
        return
    for i, r in enumerate(resources):
        yield from _resource(r, f"/resources/{i}")
    yield from _twice(resources, "/resources", "resource")


def _licenses(licenses: Any) -> Iterator[Issue]:
    if licenses is None:
        return
    if not isinstance(licenses, list):
        yield "/licenses", f"licenses is {_kind(licenses)}", "a list of {name or path} objects"
        return
    for i, lic in enumerate(licenses):
        ok = isinstance(lic, dict) and (isinstance(lic.get("name"), str)
                                        or isinstance(lic.get("path"), str))
        if not ok:
            yield f"/licenses/{i}", f"license is {_short(lic)}", \
                'an object with "name" (e.g. "CC-BY-4.0") or "path"'


def _resource(r: Any, at: str) -> Iterator[Issue]:
    if not isinstance(r, dict):
        yield at, f"resource is {_kind(r)}", "an object"
        return
    name = r.get("name")
    if name is None:
        yield at + "/name", "resource has no name", "a name: lowercase a-z, 0-9, '-', '_', '.', '/'"
    elif not isinstance(name, str) or not RESOURCE_NAME_RE.match(name):
        yield at + "/name", f"resource name is {name!r}", \
            "lowercase a-z, 0-9, '-', '_', '.', '/'"
    if "path" not in r:
        yield at, "resource has no path", 'a "path" to the data file'
    elif not isinstance(r["path"], str):
        yield at + "/path", f"path is {_kind(r['path'])}", "a string"
    yield from _strings(r, at, STRING_RESOURCE)
    for key in INT_RESOURCE:
        if key in r and (not isinstance(r[key], int) or isinstance(r[key], bool)):
            yield f"{at}/{key}", f"{key} is {_short(r[key])}", "an integer"
    if "schema" in r:
        yield from _schema(r["schema"], at + "/schema")


def _schema(schema: Any, at: str) -> Iterator[Issue]:
    if not isinstance(schema, dict) or "fields" not in schema:
        yield at, f"schema is {_short(schema)}", 'a Table Schema object with "fields"'
        return
    fields = schema["fields"]
    if not isinstance(fields, list):
        yield at + "/fields", f"fields is {_kind(fields)}", "a list of fields"
        return
    for i, f in enumerate(fields):
        yield from _field(f, f"{at}/fields/{i}")
    yield from _twice(fields, at + "/fields", "field")


def _twice(items: list[Any], at: str, what: str) -> Iterator[Issue]:
    """A name used again (resources in a package, fields in a schema) is an error."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            if name in seen:
                yield f"{at}/{i}/name", f"{what} name {name!r} is used twice", f"unique {what} names"
            seen.add(name)


def _field(f: dict[str, Any], at: str) -> Iterator[Issue]:
    if not isinstance(f.get("name"), str):
        yield at + "/name", f"field name is {_short(f.get('name'))}", "a string"
    kind = f.get("type")
    if kind is not None and kind not in FIELD_TYPES:
        yield at + "/type", f"field type is {_short(kind)}", "one of " + ", ".join(sorted(FIELD_TYPES))
    yield from _strings(f, at, ("title", "description"))


def _strings(d: Mapping[str, Any], at: str, keys: tuple[str, ...]) -> Iterator[Issue]:
    for key in keys:
        if key in d and not isinstance(d[key], str):
            yield f"{at}/{key}", f"{key} is {_short(d[key])}", "a string"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{_kind(value)} ({text[:50]}...)"


# -- the slow path: frictionless itself -------------------------------------------------

_AT_PROPERTY = re.compile(r" at property '([^']*)'$")
_NAMED_PROPERTY = re.compile(r'^property "([^"]+)" ')


def frictionless_problems(d: Mapping[str, Any], folder: Path | None = None) -> list[Issue]:
    """frictionless's verdict, split per resource so each error gets a pointer. A resource
    checked on its own keeps the package's standard version (its `$schema`: v2 allows
    what v1 does not, such as object-form `missingValues`), as inside the package."""
    try:
        from frictionless import Package, Resource
    except ImportError:  # pragma: no cover - frictionless is a core dependency
        return [("", "cannot check the Data Package spec: frictionless is not installed",
                 "pip install frictionless")]
    resources = d.get("resources")
    top = dict(d)
    if isinstance(resources, list):
        top["resources"] = []
    found = _report(Package.validate_descriptor, top, "")
    resolve = getattr(Package, "effective_datapackage_version", None)  # frictionless >= 5.21
    version = resolve(top, None) if resolve else None

    def check(descriptor: dict[str, Any], basepath: str | None) -> Any:
        if version is None:
            return Resource.validate_descriptor(descriptor, basepath=basepath)
        return _validate_in(Resource, descriptor, basepath, version)

    if isinstance(resources, list):
        for i, r in enumerate(resources):
            if not isinstance(r, dict):
                found.append((f"/resources/{i}", f"resource is {_kind(r)}", "an object"))
            else:
                found += _report(check, r, f"/resources/{i}", folder)
        names = [r.get("name") for r in resources if isinstance(r, dict)]
        if len(names) != len(set(map(str, names))):
            found.append(("/resources", "resource names are not unique", "unique resource names"))
    return found


def _validate_in(kind: Any, descriptor: dict[str, Any], basepath: str | None,
                 version: str) -> Any:
    """`kind.validate_descriptor`, with the standard version an enclosing package imposes
    (frictionless's `datapackage_version` option of `from_descriptor`)."""
    from frictionless import FrictionlessException, Report

    errors = []
    try:
        kind.from_descriptor(descriptor, basepath=basepath, datapackage_version=version)
    except FrictionlessException as e:
        errors = e.reasons or [e.error]
    return Report.from_validation(errors=errors)


def _report(check: Any, descriptor: Mapping[str, Any], at: str,
            folder: Path | None = None) -> list[Issue]:
    try:
        report = check(dict(descriptor), basepath=str(folder) if folder else None)
    except Exception as e:  # frictionless raises its own exceptions on odd input
        return [(at, f"frictionless could not read it: {e}", "a valid Data Package descriptor")]
    found = []
    for error in report.flatten(["type", "note"]):
        kind, note = str(error[0]), str(error[1])
        pointer = at
        match = _AT_PROPERTY.search(note)
        named = _NAMED_PROPERTY.match(note)
        if match:
            pointer = f"{at}/{match.group(1)}"
            note = note[: match.start()]
        elif named:
            pointer = f"{at}/{named.group(1)}"
        elif kind in ("schema-error", "field-error"):
            pointer = f"{at}/schema"
        found.append((pointer, f"{kind}: {note}", "a valid Data Package (frictionless)"))
    return found
