from __future__ import annotations

from collections.abc import Callable

import pytest

from dvbuild.detect.inputs import input_hash, input_hashes, worktree_input_hash
from dvbuild.package import Package, load_package
from dvbuild.settings import Settings, load_settings
from tests.conftest import Repo


@pytest.fixture
def repo(make_repo: Callable[..., Repo]) -> Repo:
    r = make_repo(commit=False)
    r.write("dvbuild.yaml", "global: [requirements-global.txt]\nignore: ['**/*.md']\n")
    r.write("requirements-global.txt", "pandas\n")
    r.write("shared/lib/util.py", "X = 1\n")
    r.write("shared/other.py", "Y = 1\n")
    r.write_package("packages/a", depends_on=["shared/lib"])
    r.write("packages/a/main.ipynb", "{}\n")
    r.write_package("packages/b")
    r.write("tools/x.sh", "echo\n")
    r.commit()
    return r


def setup(repo: Repo) -> tuple[Settings, Package, Package]:
    settings = load_settings(repo.path, environ={})
    return (settings, load_package(repo.path / "packages/a", repo.path),
            load_package(repo.path / "packages/b", repo.path))


@pytest.mark.parametrize(("path", "changes"), [
    ("packages/a/main.ipynb", True),
    ("shared/lib/util.py", True),
    ("requirements-global.txt", True),
    ("shared/other.py", False),
    ("tools/x.sh", False),
    ("packages/a/README.md", False),  # ignored files never trigger, so they are not inputs
    ("packages/b/main.ipynb", False),
])
def test_what_the_hash_covers(repo: Repo, path: str, changes: bool) -> None:
    settings, a, _ = setup(repo)
    before = input_hash(settings, a)
    repo.write(path, "changed\n")
    repo.commit()
    assert (input_hash(settings, a) != before) is changes
    assert input_hash(settings, a, "HEAD~1") == before


def test_exec_bit_counts(repo: Repo) -> None:
    settings, a, _ = setup(repo)
    before = input_hash(settings, a)
    repo.git("update-index", "--chmod=+x", "packages/a/main.ipynb")
    repo.git("commit", "-q", "-m", "chmod")
    assert input_hash(settings, a) != before


def test_batch_equals_single(repo: Repo) -> None:
    settings, a, b = setup(repo)
    assert input_hashes(settings, [a, b]) == {"a": input_hash(settings, a),
                                              "b": input_hash(settings, b)}
    assert input_hash(settings, a) != input_hash(settings, b)


def test_working_tree_hash(repo: Repo) -> None:
    settings, a, _ = setup(repo)
    committed = input_hash(settings, a)
    assert worktree_input_hash(settings, a) == committed  # clean tree: same hash
    repo.write("packages/a/main.ipynb", "edited\n")
    edited = worktree_input_hash(settings, a)
    assert edited != committed and input_hash(settings, a) == committed
    repo.write("packages/a/new.py", "untracked\n")
    untracked = worktree_input_hash(settings, a)
    assert untracked != edited
    repo.commit()
    assert input_hash(settings, a) == untracked  # committing changes nothing
    (repo.path / "packages/a/new.py").unlink()
    assert worktree_input_hash(settings, a) == edited


def test_monorepo_in_a_subfolder(make_repo: Callable[..., Repo]) -> None:
    r = make_repo(commit=False)
    r.write_package("team/packages/x", name="x")
    r.write("team/dvbuild.yaml", "global: [common.txt]\n")
    r.write("team/common.txt")
    r.write("common.txt")  # outside the monorepo: not an input
    r.commit()
    settings = load_settings(r.path / "team", environ={})
    x = load_package(r.path / "team/packages/x", r.path / "team")
    before = input_hash(settings, x)
    assert worktree_input_hash(settings, x) == before
    r.write("common.txt", "changed\n")
    r.commit()
    assert input_hash(settings, x) == before
    r.write("team/common.txt", "changed\n")
    r.commit()
    assert input_hash(settings, x) != before


def test_bad_depends_on_globs_do_not_crash(make_repo: Callable[..., Repo]) -> None:
    r = make_repo(commit=False)
    r.write_package("p", depends_on=["[unclosed", "lib"])
    r.write("lib/x.py")
    r.commit()
    settings = load_settings(r.path, environ={})
    p = load_package(r.path / "p", r.path)
    before = input_hash(settings, p)
    r.write("lib/x.py", "changed\n")
    r.commit()
    assert input_hash(settings, p) != before
