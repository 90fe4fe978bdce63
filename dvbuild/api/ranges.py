"""Which published version `read_dp(version=...)` asks for: pure functions over manifests.

    "latest"                the version latest.json names (the caller reads it)
    "1.2.0-abcdef123456"    that version id
    "1.2.0"                 the `version` field: the newest complete one by publish time
    "^1.2"  "~1.2"          caret / tilde ranges, npm's meaning (^1.2: >=1.2,<2; ~1.2: >=1.2,<1.3)
    "1.x"  "1.*"  "*"       wildcards
    ">=1.2,<2"  "~=1.2"     PEP 440 specifiers

Ranges compare `packaging.version.Version`s; a version field it cannot parse (a
calendar `2023-03-30`) matches only exactly. A pre-release matches a range only
when the range names one (packaging's rule). Among a range's matches the
highest version wins, then the newest publish.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

ID_RE = re.compile(r"^(?P<semver>[0-9A-Za-z.+_-]+)-(?P<digest>[0-9a-f]{12})$")
_RELEASE = re.compile(r"^\d+(?:\.\d+){0,2}$")
_WILDCARD = re.compile(r"^(?P<head>(?:\d+\.){0,2})[xX*]$")
FORMS = "'latest', a version id, a version field like '1.2.0', or a range: '^1.2', '~1.2', " \
        "'1.x', '>=1.2,<2'"


class Wanted(NamedTuple):
    text: str
    spec: SpecifierSet | None  # None: the exact version field `text`


def parse(text: str) -> Wanted:
    """What a version argument asks for; ValueError for a malformed range."""
    text = text.strip()
    if text[:1] in ("^", "~") and text[:2] != "~=":
        return Wanted(text, SpecifierSet(_bounded(text[0], text[1:].strip())))
    wildcard = _WILDCARD.match(text)
    if wildcard:
        head = wildcard["head"]
        return Wanted(text, SpecifierSet(f"=={head}*" if head else ""))
    if text[:1] in ("<", ">", "=", "!", "~") or "," in text:
        try:
            return Wanted(text, SpecifierSet(text))
        except InvalidSpecifier:
            raise ValueError(f"{text!r} is not a version range") from None
    return Wanted(text, None)


def _bounded(op: str, base: str) -> str:
    if not _RELEASE.match(base):
        raise ValueError(f"{op}{base!r}: expected {op}MAJOR[.MINOR[.PATCH]]")
    parts = [int(p) for p in base.split(".")]
    if op == "^":  # the first non-zero part may not change (^0.2 stays below 0.3)
        i = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
    else:
        i = 1 if len(parts) > 1 else 0
    upper = ".".join(str(p) for p in [*parts[:i], parts[i] + 1])
    return f">={base},<{upper}"


def semver(manifest: Mapping[str, Any]) -> str:
    """A version's `version` field: the manifest's `semver`, else the id without its digest."""
    if manifest.get("semver"):
        return str(manifest["semver"])
    found = ID_RE.match(str(manifest.get("version", "")))
    return found["semver"] if found else str(manifest.get("version", ""))


def matches(wanted: Wanted, field: str) -> bool:
    parsed = _version(field)
    if wanted.spec is None:
        return field == wanted.text or (parsed is not None and parsed == _version(wanted.text))
    return parsed is not None and wanted.spec.contains(parsed)


def pick(manifests: Iterable[Mapping[str, Any]], wanted: Wanted) -> Mapping[str, Any] | None:
    """The newest complete version the argument asks for, or None."""
    found = [m for m in manifests if matches(wanted, semver(m))]
    if not found:
        return None
    if wanted.spec is None:
        return max(found, key=lambda m: (str(m.get("published", "")), str(m["version"])))
    return max(found, key=lambda m: (_version(semver(m)), str(m.get("published", "")),
                                     str(m["version"])))


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
