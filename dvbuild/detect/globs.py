"""The one glob syntax of dvbuild (`global`, `ignore`, `depends_on`): gitignore's.

Matching is the `pathspec` library's `GitIgnoreSpec`, on posix paths relative to
the monorepo root: `*`, `?`, `[abc]`/`[!abc]`, `\\` escapes, `**` as a whole
segment; a pattern without a slash (other than a trailing one) matches a name at
any depth (`*.md` is `**/*.md`), one with a slash is anchored at the monorepo
root; a pattern matching a folder matches every path below it, a trailing `/`
only below a folder. See docs/detect.md.

What stays here is what pathspec lacks:

- `check`: where pathspec silently matches nothing, or something else (or fails
  only when matching), a config mistake is an error here: negation (`!pattern`
  means nothing in a list of inputs), empty patterns and segments, `.`/`..`, an
  unclosed `[`, a bad range (`[z-a]`), a dangling `\\`, leading or trailing
  white space (pathspec 0.12 strips both ends, 1.x the end). A leading `#` (a
  comment to gitignore) is escaped, so `#notes.txt` names a file.
- `literal_prefix`, so callers can ask git for one subtree only.
- `problems`, validate's view of a list.

pathspec is imported on the first match, not on import: it adds ~17 ms to detect
(it loads `dataclasses`, `inspect`, `typing_extensions`), and most changed paths
cannot match any glob, which `_pre_check` sees without pathspec.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec


MAX_SEGMENT = 255  # NAME_MAX: a longer segment names no file, and stat() fails on it
MAX_PATTERN = 1024  # and '**/' * 200 would compile to a regex that backtracks badly
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class GlobError(ValueError):
    """A pattern this syntax cannot express; the message says why."""


def check(pattern: str) -> str:
    """The pattern as pathspec should read it; GlobError if it is not a usable glob."""
    if not pattern or not pattern.strip("/"):
        raise GlobError("empty pattern")
    if pattern.startswith("!"):
        raise GlobError("negation ('!') is not supported; list what should match instead")
    if pattern != pattern.strip():
        raise GlobError("leading or trailing white space (pathspec drops it)")
    if _CONTROL.search(pattern):
        raise GlobError("a control character (such as NUL or a newline) is in it")
    if len(pattern) > MAX_PATTERN:
        raise GlobError(f"{len(pattern)} characters long (at most {MAX_PATTERN})")
    for seg in pattern.strip("/").split("/"):
        if seg in ("", ".", ".."):
            raise GlobError(f"segment {seg!r} is not allowed (paths are relative to the monorepo root)")
        if len(seg.encode("utf-8", "surrogatepass")) > MAX_SEGMENT:
            raise GlobError(f"a segment is longer than {MAX_SEGMENT} bytes (no file name is)")
        i = 0
        while i < len(seg):
            if seg[i] == "\\":
                if i + 1 == len(seg):
                    raise GlobError("a trailing '\\' escapes nothing")
                i += 1
            elif seg[i] == "[":
                end = _class_end(seg, i)
                if end < 0:
                    raise GlobError("unclosed '[' in a character class")
                body = seg[i + 1:end]
                body = body[1:] if body[:1] in ("!", "^") else body
                k = 0
                while k < len(body):  # ranges, read as `re` reads the class pathspec makes
                    if body[k + 1:k + 2] == "-" and k + 2 < len(body):
                        if body[k] > body[k + 2]:
                            raise GlobError(f"bad character range {body[k:k + 3]!r}")
                        k += 2
                    k += 1
                i = end
            i += 1
    return "\\" + pattern if pattern.startswith("#") else pattern


def _class_end(seg: str, i: int) -> int:
    """Where the class opened at seg[i] closes, as pathspec reads it: `]` right after
    `[`, `[!` or `[^` is a member (`[]]`, `[!]a]`). -1 when it does not close."""
    j = i + 1
    j += seg[j:j + 1] in ("!", "^")
    j += seg[j:j + 1] == "]"
    return seg.find("]", j)


def _literals(pattern: str) -> tuple[str, ...]:
    """Texts every path the pattern matches contains: the runs of plain characters
    inside each segment (never across a `/`, which `**` may stand for)."""
    runs: list[str] = []
    for seg in pattern.split("/"):
        run, i = "", 0
        while i < len(seg):
            c = seg[i]
            if c == "\\" and i + 1 < len(seg):
                run += seg[i + 1]
                i += 1
            elif c in "*?[":
                runs.append(run)
                run = ""
                if c == "[":
                    i = _class_end(seg, i)
            else:
                run += c
            i += 1
        runs.append(run)
    return tuple(r for r in runs if r)


def _pre_check(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """A regex that finds something in every path some pattern matches (a match maps a
    pattern's plain texts, in order, onto the path); None when a pattern has no plain
    text (`*`). One cheap search rejects most paths before pathspec is imported or
    called (tests/test_globs.py checks it never rejects a match)."""
    alternatives = []
    for pattern in patterns:
        lits = _literals(pattern)
        if not lits:
            return None
        alternatives.append(".*".join(map(re.escape, lits)))
    return re.compile("|".join(alternatives), re.DOTALL) if alternatives else None


@lru_cache(maxsize=4096)
def _spec(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    from pathspec import GitIgnoreSpec

    try:
        return GitIgnoreSpec.from_lines(patterns)
    except (ValueError, re.error) as e:  # check() should have said so; in case it did not
        raise GlobError(str(e)) from e


def match(pattern: str, path: str) -> bool:
    return GlobSet([pattern]).matches(path)


class GlobSet:
    """Several patterns; `matches(path)` says whether any matches it, `match(path)` which
    one (the first). Checked on construction (GlobError), compiled on the first match."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._checked = tuple(check(p) for p in self.patterns)
        self._pre = _pre_check(self._checked)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        if not self.patterns or (self._pre is not None and self._pre.search(path) is None):
            return False
        return _spec(self._checked).match_file(path)

    def match(self, path: str) -> str | None:
        if not self.matches(path):
            return None
        return next(p for p, c in zip(self.patterns, self._checked, strict=True)
                    if _spec((c,)).match_file(path))


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
    """(index, message) for each pattern that is not a usable glob."""
    found = []
    for i, p in enumerate(patterns):
        if not isinstance(p, str):
            found.append((i, "is not a string"))
            continue
        try:
            check(p)
        except GlobError as e:
            found.append((i, str(e)))
    return found
