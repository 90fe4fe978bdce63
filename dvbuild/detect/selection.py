"""Which packages a change touches: changed paths -> packages, with the reasons.

`select()` is pure (strings in, strings out). `detect()` feeds it: `refs`
resolves the two commits, git lists what differs and where the package folders
are, `tree` reads only the descriptors it needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from dvbuild import gitio
from dvbuild.detect import refs, tree
from dvbuild.detect.globs import GlobError, GlobSet
from dvbuild.errors import ConfigError, Problem
from dvbuild.package import DESCRIPTOR, DESCRIPTORS, Package, check_unique_names
from dvbuild.settings import CONFIG_FILE, Settings

if TYPE_CHECKING:
    from dvbuild.detect.shards import Shard

A = TypeVar("A")
B = TypeVar("B")


class Selection:
    """select()'s answer: package folders with their reasons, and the rest.
    (Plain classes, not dataclasses: `dataclasses` costs detect ~10 ms to import.)"""

    def __init__(self, reasons: dict[str, list[str]] | None = None, all: bool = False,
                 global_hits: list[str] | None = None, unowned: list[str] | None = None) -> None:
        self.reasons: dict[str, list[str]] = {} if reasons is None else reasons
        self.all = all
        self.global_hits: list[str] = [] if global_hits is None else global_hits
        self.unowned: list[str] = [] if unowned is None else unowned


def owner(path: str, folders: Collection[str]) -> str | None:
    """The nearest package folder above path ('.' is the monorepo root itself).
    String slicing, not PurePosixPath: this runs for every path of big listings."""
    end = len(path)
    while True:
        end = path.rfind("/", 0, end)
        if end < 0:
            return "." if "." in folders else None
        if path[:end] in folders:
            return path[:end]


def select(changed: Iterable[str], folders: Collection[str], *, removed: Collection[str] = (),
           global_: Sequence[str] = (), ignore: Sequence[str] = (),
           depends: Mapping[str, Sequence[str]] | None = None) -> Selection:
    """Paths (relative to the monorepo root) -> the package folders they select.

    A path selects the nearest package folder above it, every package whose
    `depends_on` matches it, and every package if a `global` glob matches it. A path
    matching `ignore` selects nothing. A path below a removed package is that
    package's; any other path nothing selects is `unowned`."""
    ignored, globals_ = GlobSet(ignore), GlobSet(global_)
    groups = _depends_groups(depends or {})
    folder_set, removed_set = set(folders), set(removed)
    sel = Selection()
    for path in sorted(set(changed)):
        if ignored.matches(path):
            continue
        hit = owner(path, folder_set)
        if hit is not None:
            sel.reasons.setdefault(hit, []).append(path)
        if globals_.matches(path):
            sel.global_hits.append(path)
            hit = hit or "*"
        for globs, dependants in groups:
            if globs.matches(path):
                for folder in dependants:
                    if path not in sel.reasons.setdefault(folder, []):
                        sel.reasons[folder].append(path)
                hit = hit or "*"
        if hit is None and owner(path, removed_set) is None:
            sel.unowned.append(path)
    if sel.global_hits:
        sel.all = True
        for folder in folder_set:
            sel.reasons[folder] = _merge(sel.global_hits, sel.reasons.get(folder, []))
    return sel


def _depends_groups(depends: Mapping[str, Sequence[str]]) -> list[tuple[GlobSet, list[str]]]:
    """Packages grouped by identical depends_on lists, so each list compiles once."""
    by_globs: dict[tuple[str, ...], list[str]] = {}
    for folder, globs in depends.items():
        by_globs.setdefault(tuple(globs), []).append(folder)
    return [(GlobSet(globs), folders) for globs, folders in by_globs.items()]


def _merge(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*second, *first]))


class Removed(NamedTuple):
    name: str
    path: str


class Detection:
    def __init__(self, base: str | None, head: str | None, all: bool = False,
                 fork: bool = False, packages: list[Package] | None = None,
                 reasons: dict[str, list[str]] | None = None,
                 removed: list[Removed] | None = None, unowned: list[str] | None = None,
                 notices: list[str] | None = None, event: str | None = None,
                 worktree: bool = False) -> None:
        self.base = base
        self.head = head
        self.all = all
        self.fork = fork
        self.packages: list[Package] = [] if packages is None else packages
        self.reasons: dict[str, list[str]] = {} if reasons is None else reasons  # by package path
        self.removed: list[Removed] = [] if removed is None else removed
        self.unowned: list[str] = [] if unowned is None else unowned
        self.notices: list[str] = [] if notices is None else notices
        self.event = event
        self.worktree = worktree  # head is the working tree (uncommitted changes count)
        self.shards: list[Shard] | None = None  # set when there are more packages than jobs

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.packages]

    def matrix(self) -> dict[str, list[dict[str, Any]]]:
        """One job per package, or per shard: `packages` is what the job tests either way."""
        if self.shards is not None:
            return {"include": [{"name": s.name, "packages": s.paths} for s in self.shards]}
        return {"include": [{"name": p.name, "path": p.path, "packages": [p.path]}
                            for p in self.packages]}

    def as_json(self) -> dict[str, Any]:
        return {
            "base": self.base, "head": self.head, "all": self.all, "fork": self.fork,
            "packages": [{"name": p.name, "path": p.path, "reasons": self.reasons.get(p.path, [])}
                         for p in self.packages],
            "removed": [{"name": r.name, "path": r.path} for r in self.removed],
            "unowned": self.unowned,
            "matrix": self.matrix(),
            "notices": self.notices,
        }


def detect(settings: Settings, *, base: str | None = None, head: str | None = None,
           event_path: Path | None = None, event_name: str | None = None,
           all_: bool = False) -> Detection:
    rng = refs.resolve(settings, base=base, head=head, event_path=event_path,
                       event_name=event_name, all_=all_)
    found = Detection(base=rng.base, head=rng.head, fork=rng.fork, notices=rng.notices,
                      event=rng.event, worktree=rng.worktree)
    if rng.nothing:
        found.base = None
        return found
    if rng.all:
        snap = _snapshot(settings, rng)
        check_nesting(snap.folders, snap.keys)
        found.all, found.base = True, None
        why = rng.notices[-1] if rng.notices else "every package"
        return _finish(found, snap, {f: [why] for f in snap.folders}, {})
    snap, changes = both(lambda: _snapshot(settings, rng), lambda: _changes(settings, rng))
    check_nesting(snap.folders, snap.keys)
    removed = _removed_folders(changes, snap.folders)
    depends, broken = tree.depends_on(snap.keys, snap.contents)
    found.notices.extend(broken)
    sel = select([c.path for c in changes], snap.folders, removed=removed,
                 global_=_globs(settings.config.global_, "global"),
                 ignore=_globs(settings.config.ignore, "ignore"), depends=depends)
    found.all, found.unowned = sel.all, sel.unowned
    if sel.all:
        found.notices.append(f"global file changed ({', '.join(sel.global_hits[:3])}): every package")
    return _finish(found, snap, sel.reasons, removed)


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Run two independent git-bound calls at once: the processes do the work, so two
    cores finish sooner than one after the other."""
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, second()))
        except BaseException as e:  # re-raised in the caller's thread below
            box.append((False, e))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        a = first()
    finally:
        worker.join()
    ok, b = box[0]
    if not ok:
        raise b
    return a, b


def _finish(found: Detection, snap: tree.Snapshot, reasons: dict[str, list[str]],
            removed: Mapping[str, tuple[str, str]]) -> Detection:
    folders = sorted(f for f in reasons if f in snap.folder_set)
    found.packages = sorted(tree.load(snap.settings, snap.keys, folders, snap.contents),
                            key=lambda p: p.path)
    check_unique_names(found.packages)
    found.reasons = {f: reasons[f] for f in folders}
    found.removed = [Removed(tree.name_at(snap.settings, oid, file), f)
                     for f, (oid, file) in sorted(removed.items())]
    return found


def _snapshot(settings: Settings, rng: refs.Range) -> tree.Snapshot:
    if rng.worktree:
        return tree.Snapshot.in_worktree(settings)
    assert rng.head is not None
    return tree.Snapshot.at_commit(settings, rng.head)


def _globs(patterns: Sequence[str], key: str) -> tuple[str, ...]:
    problems = []
    for i, p in enumerate(patterns):
        try:
            GlobSet([p])
        except GlobError as e:
            problems.append(Problem(CONFIG_FILE, f"bad glob {p!r}: {e}", pointer=f"/{key}/{i}",
                                    expected="a gitignore-style glob (see docs/detect.md)"))
    if problems:
        raise ConfigError(problems)
    return tuple(patterns)


def _changes(settings: Settings, rng: refs.Range) -> list[gitio.Change]:
    spec = [f":(literal){settings.prefix.rstrip('/')}"] if settings.prefix else []
    cwd = settings.git_root
    if rng.worktree:
        gitio.refresh_index(cwd)
        raw = gitio.diff_worktree(rng.base or gitio.EMPTY_TREE, cwd, *spec)
    else:
        assert rng.head is not None
        raw = gitio.diff_trees(rng.base or gitio.EMPTY_TREE, rng.head, cwd, *spec)
    prefix = settings.prefix
    return [_relative(c, len(prefix)) for c in raw if c.path.startswith(prefix)]


def _relative(change: gitio.Change, n: int) -> gitio.Change:
    return gitio.Change(change.old_mode, change.new_mode, change.old_oid, change.new_oid,
                        change.status, change.path[n:])


def _removed_folders(changes: list[gitio.Change],
                     folders: Collection[str]) -> dict[str, tuple[str, str]]:
    """{folder: (old descriptor blob, its path)} for packages whose descriptor went away."""
    removed = {}
    for c in changes:
        name = PurePosixPath(c.path)
        if c.status == "D" and name.name in DESCRIPTORS and str(name.parent) not in folders:
            removed[str(name.parent)] = (c.old_oid, c.path)
    return removed


def check_nesting(folders: Collection[str], files: Mapping[str, str] | None = None) -> None:
    """Exit 2 naming every descriptor (`files`: folder -> its path) that lies inside
    another package's folder."""
    if not _any_nested(folders):
        return
    folder_set = set(folders)
    problems = []
    for f in sorted(folder_set):
        outer = owner(f, folder_set) if f != "." else None  # owner() looks above f only
        if outer is not None:
            file = (files or {}).get(f) or (DESCRIPTOR if f == "." else f"{f}/{DESCRIPTOR}")
            problems.append(Problem(file, f"package nested inside package {outer}",
                                    expected="package folders that do not contain other "
                                             "package folders"))
    if problems:
        raise ConfigError(problems, hint="move the inner package out, or delete one datapackage.json")


def _any_nested(folders: Collection[str]) -> bool:
    """Sorted with '/' lowest, a folder's descendants follow it directly, so comparing
    neighbours finds any nesting in one pass."""
    if "." in folders:
        return len(folders) > 1
    ordered = sorted(folders, key=lambda f: f.replace("/", "\0"))
    return any(b.startswith(a + "/") for a, b in zip(ordered, ordered[1:], strict=False))
