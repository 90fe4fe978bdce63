"""Packages as a commit (not the working tree) has them, read with a few git calls.

`git ls-tree` lists every datapackage.json (or .yaml/.yml) with its blob id in one
call; one `git cat-file --batch` reads the descriptors that are needed. No
descriptor is parsed unless its package is a candidate (or names a `depends_on`).

`keys` maps a package folder to its descriptor's path (relative to the monorepo
root), which is also its key in `contents`: the path says how to parse it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from dvbuild import gitio
from dvbuild.detect import globs
from dvbuild.errors import ConfigError
from dvbuild.package import PATHSPECS, Package, checked_name, descriptor_object, descriptor_paths
from dvbuild.settings import Settings


def descriptors(settings: Settings, rev: str) -> tuple[dict[str, str], dict[str, bytes]]:
    """({package folder relative to the monorepo root: its descriptor's path},
    {descriptor's path: contents}), from two overlapping git processes
    (gitio.read_matching). Two descriptors in one folder is a ConfigError."""
    prefix = settings.prefix  # a property: computed once, not per package
    spec = f":(glob){_glob_escape(prefix)}**/datapackage.*"
    paths, blobs = gitio.read_matching(rev, spec, settings.git_root)
    n = len(prefix)
    keys = descriptor_paths(p[n:] for p in paths)
    return keys, {f: blobs.get(paths[prefix + f], b"") for f in keys.values()}


class Snapshot:
    """The package folders at head (a commit, or the working tree) and their descriptors:
    `keys` maps a folder to its descriptor's path, the key in `contents`."""

    def __init__(self, settings: Settings, keys: dict[str, str],
                 contents: dict[str, bytes]) -> None:
        self.settings = settings
        self.keys = keys
        self.contents = contents
        self.folders = sorted(self.keys)
        self.folder_set = set(self.folders)

    @classmethod
    def at_commit(cls, settings: Settings, rev: str) -> Snapshot:
        return cls(settings, *descriptors(settings, rev))

    @classmethod
    def in_worktree(cls, settings: Settings) -> Snapshot:
        listed = gitio.ls_files(settings.root, *PATHSPECS)
        keys = descriptor_paths(f for f in listed if (settings.root / f).is_file())
        return cls(settings, keys, {f: _read(settings.root / f) for f in keys.values()})


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # parse() then names the file


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[\\" else c for c in text)


def parse(raw: bytes, file: str) -> dict[str, Any]:
    """The descriptor object (JSON or YAML, as `file` is named); malformed input names
    the file, line and column."""
    return descriptor_object(raw, file)


def make_package(settings: Settings, folder: str, data: dict[str, Any], file: str) -> Package:
    name = checked_name(data, file)
    return Package(name=name, path=folder, folder=_abs(settings.root, folder), descriptor=data,
                   file=PurePosixPath(file).name)


def _abs(root: Path, folder: str) -> Path:
    return root if folder == "." else root / folder


def load(settings: Settings, blobs: dict[str, str], folders: list[str],
         contents: dict[str, bytes]) -> list[Package]:
    """Packages for the given folders, every problem reported at once."""
    packages, problems = [], []
    for folder in folders:
        file = blobs[folder]
        try:
            data = parse(contents.get(file, b""), file)
            packages.append(make_package(settings, folder, data, file))
        except ConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ConfigError(problems)
    return packages


def depends_on(blobs: dict[str, str], contents: dict[str, bytes],
               ) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """({folder: depends_on globs} for packages that declare any, problems found).
    A cheap byte search skips the JSON parse of descriptors without the key."""
    found: dict[str, tuple[str, ...]] = {}
    broken = []
    for folder, file in blobs.items():
        raw = contents.get(file, b"")
        if b"depends_on" not in raw:
            continue
        try:
            value = parse(raw, file).get("depends_on")
        except ConfigError:
            broken.append(f"{file}: not valid JSON or YAML; its depends_on is not known")
            continue
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list):
            continue
        bad = dict(globs.problems(value))
        broken += [f"{file} /depends_on/{i}: {why}" for i, why in bad.items()]
        kept = tuple(v for i, v in enumerate(value) if i not in bad and isinstance(v, str))
        if kept:
            found[folder] = kept
    return found, broken


def name_at(settings: Settings, oid: str, file: str) -> str:
    """A removed package's name from its old descriptor (blob `oid` of `file`); the
    folder's name if unreadable."""
    raw = gitio.cat_blobs([oid], settings.git_root).get(oid, b"")
    try:
        name = parse(raw, file).get("name")
    except ConfigError:
        name = None
    return name if isinstance(name, str) and name else PurePosixPath(file).parent.name
