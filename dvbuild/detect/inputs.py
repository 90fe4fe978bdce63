"""The input content hash of a package: what its build depends on, from git's own ids.

The same hash is used by `detect --since-published`, as an image tag, and in
the published manifest, so "has this package's input changed?" has one answer.

What it covers is what `detect` watches: every file below the package folder,
every file its `depends_on` globs match, every file the `global` globs match,
minus what `ignore` matches. It is the sha256 of one line per file, sorted by
path (relative to the monorepo root): `<mode> <blob id>\\t<path>\\n`, after a
version line. The blob ids come from `git ls-tree` (a commit) or from the index
plus `git hash-object` (the working tree), so a clean working tree and its
commit hash the same.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from dvbuild import gitio
from dvbuild.detect.globs import GlobSet, literal_prefix, problems
from dvbuild.package import Package
from dvbuild.settings import Settings
from dvbuild.util import cmd_output, split_z

VERSION = b"dvbuild-input-hash 1\n"
Listing = list[tuple[str, str, str]]  # (path relative to the monorepo root, mode, blob id)


def input_hash(settings: Settings, package: Package, rev: str = "HEAD") -> str:
    """The hash of the package's inputs as commit `rev` has them."""
    listing = at_commit(settings, rev, _specs(settings, [package]))
    return _hashes(settings, [package], listing)[package.name]


def input_hashes(settings: Settings, packages: Sequence[Package], rev: str = "HEAD") -> dict[str, str]:
    """{name: hash} for many packages from one `git ls-tree` call."""
    return _hashes(settings, packages, at_commit(settings, rev, _specs(settings, packages)))


def head_input_hash(settings: Settings, package: Package) -> str:
    """The hash at HEAD (an image's tag); in a repository with no commit yet, the working
    tree's, which is what HEAD will hash once the tree is committed as it is."""
    if gitio.has_commit("HEAD", settings.git_root):
        return input_hash(settings, package)
    return worktree_input_hash(settings, package)


def worktree_input_hash(settings: Settings, package: Package) -> str:
    """The hash of the inputs as the working tree has them (uncommitted and untracked,
    not ignored, files included)."""
    listing = in_worktree(settings, _specs(settings, [package]))
    return _hashes(settings, [package], listing)[package.name]


def _hashes(settings: Settings, packages: Sequence[Package], listing: Listing) -> dict[str, str]:
    ignore = GlobSet(settings.config.ignore)
    kept = [e for e in listing if not ignore.matches(e[0])]
    shared = _matching(kept, settings.config.global_)
    owned = _by_owner(kept, {p.path for p in packages})
    by_depends: dict[tuple[str, ...], Listing] = {}
    result = {}
    for p in packages:
        if p.depends_on not in by_depends:
            by_depends[p.depends_on] = _matching(kept, p.depends_on)
        result[p.name] = _digest([*owned.get(p.path, []), *by_depends[p.depends_on], *shared])
    return result


def _by_owner(listing: Listing, folders: set[str]) -> dict[str, Listing]:
    """Entries grouped by the package folder they lie in (packages do not nest)."""
    from dvbuild.detect.selection import owner

    grouped: dict[str, Listing] = {}
    for entry in listing:
        folder = owner(entry[0], folders)
        if folder is not None:
            grouped.setdefault(folder, []).append(entry)
    return grouped


def _matching(listing: Listing, globs: Sequence[str]) -> Listing:
    bad = {i for i, _ in problems(globs)}  # `dvbuild validate` reports them; skip, not crash
    usable = [g for i, g in enumerate(globs) if i not in bad]
    if not usable:
        return []
    matcher = GlobSet(usable)
    return [e for e in listing if matcher.matches(e[0])]


def _digest(entries: Iterable[tuple[str, str, str]]) -> str:
    h = hashlib.sha256(VERSION)
    for path, mode, oid in sorted(set(entries)):
        h.update(f"{mode} {oid}\t{path}\n".encode("utf-8", errors="surrogateescape"))
    return h.hexdigest()


def _specs(settings: Settings, packages: Sequence[Package]) -> list[str]:
    """Git pathspecs (from the git root) narrowing the listing to what can matter."""
    folders = {"" if p.path == "." else p.path for p in packages}
    for globs in [settings.config.global_, *(p.depends_on for p in packages)]:
        folders.update(literal_prefix(g) for g in globs if isinstance(g, str))
    if "" in folders:
        return [f":(literal){settings.prefix.rstrip('/')}"] if settings.prefix else []
    return [f":(literal){settings.prefix}{f}" for f in sorted(folders)]


def at_commit(settings: Settings, rev: str, specs: list[str]) -> Listing:
    prefix = settings.prefix
    n = len(prefix)
    return [(e.path[n:], e.mode, e.oid) for e in gitio.ls_tree(rev, settings.git_root, *specs)
            if e.path.startswith(prefix)]


def in_worktree(settings: Settings, specs: list[str]) -> Listing:
    """The index, with modified and untracked files re-hashed from disk."""
    cwd, n = settings.git_root, len(settings.prefix)
    entries: dict[str, tuple[str, str]] = {}
    for record in split_z(gitio.git("ls-files", "-s", "-z", "--", *specs, cwd=cwd)):
        meta, _, path = record.partition("\t")
        mode, oid, _stage = meta.split(" ")
        entries[path] = (mode, oid)
    for path in split_z(gitio.git("ls-files", "-z", "--deleted", "--", *specs, cwd=cwd)):
        entries.pop(path, None)
    dirty = split_z(gitio.git("ls-files", "-z", "--modified", "--others", "--exclude-standard",
                              "--", *specs, cwd=cwd))
    dirty = [p for p in dict.fromkeys(dirty) if (cwd / p).is_file() or (cwd / p).is_symlink()]
    for path, oid in zip(dirty, _hash_objects(settings, dirty), strict=True):
        entries[path] = (_mode(settings, path), oid)
    prefix = settings.prefix
    return [(p[n:], mode, oid) for p, (mode, oid) in entries.items() if p.startswith(prefix)]


def _hash_objects(settings: Settings, paths: list[str]) -> list[str]:
    if not paths:
        return []
    out = cmd_output("git", "hash-object", "--stdin-paths", cwd=settings.git_root,
                     stdin=("\n".join(paths) + "\n").encode("utf-8", errors="surrogateescape"))[1]
    return out.decode().split()


def _mode(settings: Settings, path: str) -> str:
    st = (settings.git_root / PurePosixPath(path)).lstat()
    if stat.S_ISLNK(st.st_mode):
        return "120000"
    return "100755" if st.st_mode & stat.S_IXUSR else "100644"
