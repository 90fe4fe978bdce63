from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dvbuild import gitio
from tests.conftest import Repo, git


def test_ls_tree_and_diff_read_odd_paths_raw(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    repo.write("a b/spørring for år.sql", "select 1\n")
    repo.write('q"uote\\d/tab\tname.txt', "x\n")
    base = repo.commit()
    entries = gitio.ls_tree("HEAD", repo.path)
    assert sorted(e.path for e in entries) == ['a b/spørring for år.sql', 'q"uote\\d/tab\tname.txt']
    assert {e.type for e in entries} == {"blob"}
    repo.write("a b/spørring for år.sql", "select 2\n")
    head = repo.commit()
    changes = gitio.diff_trees(base, head, repo.path)
    assert [(c.status, c.path) for c in changes] == [("M", "a b/spørring for år.sql")]
    assert gitio.get_changed_files(base, head, repo.path) == ["a b/spørring for år.sql"]


def test_diff_against_the_empty_tree_lists_everything(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    repo.write("x/y.txt")
    repo.commit()
    changes = gitio.diff_trees(gitio.EMPTY_TREE, "HEAD", repo.path)
    assert [(c.status, c.path, c.old_oid) for c in changes] == [("A", "x/y.txt", gitio.ZERO_SHA)]


def test_diff_worktree_includes_untracked_and_deleted(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    repo.write("keep.txt")
    repo.write("gone.txt")
    repo.commit()
    (repo.path / "gone.txt").unlink()
    repo.write("new dir/new.txt")
    repo.write("keep.txt", "edited\n")
    gitio.refresh_index(repo.path)
    changes = {c.path: c.status for c in gitio.diff_worktree("HEAD", repo.path)}
    assert changes == {"gone.txt": "D", "keep.txt": "M", "new dir/new.txt": "A"}


def test_cat_blobs_reads_many_and_skips_missing(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    repo.write("a.txt", "alpha\n")
    repo.write("b.bin", b"\x00\n\x01beta")
    repo.commit()
    oids = {e.path: e.oid for e in gitio.ls_tree("HEAD", repo.path)}
    missing = "0123456789" * 4
    blobs = gitio.cat_blobs([oids["a.txt"], missing, oids["b.bin"], oids["a.txt"]], repo.path)
    assert blobs == {oids["a.txt"]: b"alpha\n", oids["b.bin"]: b"\x00\n\x01beta"}
    assert gitio.cat_blobs([], repo.path) == {}


def test_history_helpers(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    root = repo.head
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("t.txt")
    topic = repo.commit()
    assert gitio.parents(root, repo.path) == []
    assert gitio.parents(topic, repo.path) == [root]
    assert gitio.merge_base("main", topic, repo.path) == root
    repo.git("checkout", "-q", "--orphan", "other")
    other = repo.commit("unrelated")
    assert gitio.merge_base(other, topic, repo.path) is None
    assert gitio.resolve("no-such-ref", repo.path) is None
    assert gitio.resolve("main", repo.path) == root
    assert gitio.default_branch(repo.path) == "main"
    assert gitio.branch_ref("main", repo.path) == "refs/heads/main"
    assert not gitio.is_shallow(repo.path)
    assert not gitio.remote_exists(repo.path)


def test_clone_helpers(make_repo: Callable[..., Repo], tmp_path: Path) -> None:
    repo = make_repo()
    repo.git("branch", "-m", "main", "trunk")
    for i in range(3):
        repo.write("f.txt", f"{i}\n")
        repo.commit()
    git(tmp_path, "clone", "-q", "--depth", "1", repo.path.as_uri(), "clone")
    clone = tmp_path / "clone"
    assert gitio.is_shallow(clone)
    assert gitio.remote_exists(clone)
    assert gitio.default_branch(clone) == "trunk"  # from origin/HEAD
    assert gitio.branch_ref("trunk", clone) == "refs/remotes/origin/trunk"
    first = repo.git("rev-list", "--max-parents=0", "HEAD")
    assert not gitio.has_commit(first, clone)
    assert gitio.fetch(clone, first, depth=1)
    assert gitio.has_commit(first, clone)
    assert gitio.fetch(clone, unshallow=True)
    assert not gitio.is_shallow(clone)
    assert not gitio.fetch(clone, "1234567890" * 4, depth=1)


def test_read_matching_streams_a_long_listing(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo(commit=False)
    for i in range(1200):  # a listing well over one 64 KiB pipe read
        repo.write(f"packages/some-rather-long-folder-name-{i:04d}/datapackage.json", f'{{"i": {i}}}')
    repo.write("packages/other.txt")
    repo.commit()
    paths, contents = gitio.read_matching("HEAD", ":(glob)**/datapackage.json", repo.path)
    assert len(paths) == 1200
    first = "packages/some-rather-long-folder-name-0000/datapackage.json"
    assert contents[paths[first]] == b'{"i": 0}'
    assert len(contents) == 1200


def test_read_matching_bad_rev_is_a_git_error(make_repo: Callable[..., Repo]) -> None:
    import pytest

    from dvbuild.errors import CalledProcessError

    repo = make_repo()
    with pytest.raises(CalledProcessError):
        gitio.read_matching("no-such-rev", "*", repo.path)


def test_resolve_all(make_repo: Callable[..., Repo]) -> None:
    repo = make_repo()
    assert gitio.resolve_all(["HEAD", "main"], repo.path) == [repo.head, repo.head]
    assert gitio.resolve_all(["HEAD", "nope"], repo.path) is None
