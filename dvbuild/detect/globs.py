"""The one glob syntax of dvbuild (`global`, `ignore`, `depends_on`): gitignore-style.

Patterns are matched against posix paths relative to the monorepo root, one
path segment at a time:

- `*` matches any characters inside one segment, `?` one character, `[abc]`
  / `[!abc]` one character of a class; `\\` escapes the next character.
- `**` as a whole segment matches zero or more segments (`**/*.md`,
  `shared/**/x.py`); a trailing `/**` matches everything below a folder.
- A pattern without a slash (other than a trailing one) matches a name at any
  depth, like gitignore: `*.md` is `**/*.md`. A pattern with a slash is
  anchored at the monorepo root (a leading `/` is allowed and dropped).
- A pattern that matches a folder matches every path below it, so `shared/lib`
  matches `shared/lib/x.py`; a trailing `/` matches only below a folder. Matching
  is on whole segments: `packages/pkg1` never matches `packages/pkg10`.
- Negation (`!pattern`) is not supported: it is an error, not a silent literal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


class GlobError(ValueError):
    """A pattern this syntax cannot express; the message says why."""


def _segment(seg: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "\\" and i + 1 < len(seg):
            out.append(re.escape(seg[i + 1]))
            i += 2
            continue
        if c == "*":
            while i + 1 < len(seg) and seg[i + 1] == "*":
                i += 1  # `a**b` inside a segment is just `*`, as in gitignore
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = seg.find("]", i + 2)
            if end < 0:
                raise GlobError("unclosed '[' in a character class")
            body = seg[i + 1:end]
            neg = body[:1] in ("!", "^")
            body = body[1:] if neg else body
            out.append("[" + ("^/" if neg else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def translate(pattern: str) -> str:
    """The regular expression (without anchors' flags) for one pattern."""
    if not pattern or not pattern.strip("/"):
        raise GlobError("empty pattern")
    if pattern.startswith("!"):
        raise GlobError("negation ('!') is not supported; list what should match instead")
    dir_only = pattern.endswith("/")
    body = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in body
    segs = body.split("/")
    if not anchored:
        segs = ["**", *segs]
    parts: list[str] = []
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg == "**":
            parts.append(".+" if last else "(?:[^/]+/)*")
        elif seg in ("", ".", ".."):
            raise GlobError(f"segment {seg!r} is not allowed (paths are relative to the monorepo root)")
        else:
            parts.append(_segment(seg) + ("" if last else "/"))
    return "".join(parts) + ("/.+" if dir_only else "(?:/.+)?")


def compile_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern), re.DOTALL)


def match(pattern: str, path: str) -> bool:
    return compile_glob(pattern).fullmatch(path) is not None


class GlobSet:
    """Several patterns; `match(path)` says which one (the first) matched, if any."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._each = [compile_glob(p) for p in self.patterns]
        joined = "|".join(f"(?:{translate(p)})" for p in self.patterns)
        self._any = re.compile(joined, re.DOTALL) if self.patterns else None

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        return self._any is not None and self._any.fullmatch(path) is not None

    def match(self, path: str) -> str | None:
        if not self.matches(path):
            return None
        return next(p for p, rx in zip(self.patterns, self._each, strict=True)
                    if rx.fullmatch(path))


def literal_prefix(pattern: str) -> str:
    """The folder every match lies in ('' when a match may be anywhere), so callers can
    ask git for that subtree only."""
    body = pattern.strip("/")
    if not pattern.startswith("/") and "/" not in body:
        return ""
    fixed: list[str] = []
    for seg in body.split("/"):
        if any(c in seg for c in "*?[\\"):
            break
        fixed.append(seg)
    return "/".join(fixed)


def problems(patterns: Iterable[object]) -> list[tuple[int, str]]:
    """(index, message) for each pattern that does not compile."""
    found = []
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            found.append((i, "is not a string"))
            continue
        try:
            translate(p)
        except GlobError as e:
            found.append((i, str(e)))
    return found
