from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from pathspec import GitIgnoreSpec

from dvbuild.detect.globs import GlobError, GlobSet, literal_prefix, match, problems


@pytest.mark.parametrize(("pattern", "path"), [
    ("packages/pkg1", "packages/pkg1/main.ipynb"),
    ("packages/pkg1", "packages/pkg1"),
    ("packages/pkg1/", "packages/pkg1/a/b.py"),
    ("*.md", "README.md"),
    ("*.md", "packages/a/README.md"),
    ("**/*.md", "README.md"),
    ("**/*.md", "a/b/c.md"),
    ("shared/**/x.py", "shared/x.py"),
    ("shared/**/x.py", "shared/a/b/x.py"),
    ("shared/**", "shared/a/b/x.py"),
    ("/dvbuild.yaml", "dvbuild.yaml"),
    ("requirements*.txt", "requirements-dev.txt"),
    ("data/file?.csv", "data/file1.csv"),
    ("data/[ab].csv", "data/a.csv"),
    ("data/[!ab].csv", "data/c.csv"),
    ("spørring for år.sql", "pakker/x/spørring for år.sql"),
    ("a\\*b", "a*b"),
    ("lib", "shared/lib/x.py"),
    ("#notes.txt", "#notes.txt"),  # a pattern, not a gitignore comment
    ("[]]x", "]x"),
    ("[!]a]x", "bx"),
])
def test_matches(pattern: str, path: str) -> None:
    assert match(pattern, path)


@pytest.mark.parametrize(("pattern", "path"), [
    ("packages/pkg1", "packages/pkg10/main.ipynb"),
    ("packages/pkg1", "packages/pkg10"),
    ("packages/pkg1/", "packages/pkg1"),
    ("*.md", "README.mdx"),
    ("shared/*.py", "shared/a/x.py"),
    ("shared/**", "shared"),
    ("/dvbuild.yaml", "sub/dvbuild.yaml"),
    ("a/dvbuild.yaml", "b/a/dvbuild.yaml"),
    ("data/file?.csv", "data/file10.csv"),
    ("data/[!ab].csv", "data/a.csv"),
    ("data/*", "data2/x"),
    ("a\\*b", "axb"),
])
def test_does_not_match(pattern: str, path: str) -> None:
    assert not match(pattern, path)


@pytest.mark.parametrize("pattern", ["", "/", "!*.md", "a/[bc", "../x", "a/./b", "a//b", "x\\",
                                     "x ", " x", "[z-a]", "[]a"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(GlobError):
        match(pattern, "x")


def test_globset_names_the_first_pattern_that_matched() -> None:
    globs = GlobSet(["*.md", "docs/**"])
    assert globs.match("docs/a.md") == "*.md"
    assert globs.match("docs/a.txt") == "docs/**"
    assert globs.match("src/a.txt") is None
    assert not GlobSet([]).matches("x")


def test_literal_prefix() -> None:
    assert literal_prefix("shared/lib/**/*.py") == "shared/lib"
    assert literal_prefix("*.md") == ""
    assert literal_prefix("/x/y") == "x/y"
    assert literal_prefix("a/b*/c") == "a"


def test_problems_lists_index_and_reason() -> None:
    assert problems(["ok/*", "!neg", 3]) == [
        (1, "negation ('!') is not supported; list what should match instead"),
        (2, "is not a string"),
    ]


def test_the_pre_check_never_hides_a_match() -> None:
    """GlobSet skips pathspec when a pattern's plain text is missing from the path;
    it must agree with pathspec on every path, also the ones pathspec matches."""
    patterns = ["*.md", "**/*.md", "a/**/b", "shared/lib", "x[ab]y", "[!]a]x", "a\\*b",
                "*/b", "dir/", "a?b", "**/a", "a/**", "[]-]x", "#c"]
    paths = ["/".join(p) for n in range(1, 4)
             for p in itertools.product(["a", "b", "x.md", "xay", "]x", "a*b", "dir", "#c"], repeat=n)]
    for pattern in patterns:
        spec, ours = GitIgnoreSpec.from_lines([pattern.replace("#", "\\#", 1)]), GlobSet([pattern])
        for path in paths:
            assert ours.matches(path) == spec.match_file(path), (pattern, path)


def test_pathspec_is_imported_only_when_a_path_may_match() -> None:
    code = ("import sys; from dvbuild.detect.globs import GlobSet; g = GlobSet(['**/*.md', 'shared/lib']);"
            "assert not g.matches('packages/a/main.ipynb'); assert 'pathspec' not in sys.modules;"
            "assert g.matches('packages/a/README.md'); assert 'pathspec' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
