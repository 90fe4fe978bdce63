"""Packages as a commit (not the working tree) has them, read with a few git calls.

`git ls-tree` lists every datapackage.json with its blob id in one call; one
`git cat-file --batch` reads the descriptors that are needed. No descriptor is
parsed unless its package is a candidate (or names a `depends_on`).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from dvbuild import gitio
from dvbuild.detect import globs
from dvbuild.errors import ConfigError
from dvbuild.package import DESCRIPTOR, Package, checked_name
from dvbuild.settings import Settings
from dvbuild.util import parse_json_object


def descriptors(settings: Settings, rev: str) -> tuple[dict[str, str], dict[str, bytes]]:
    """({package folder relative to the monorepo root: blob id of its datapackage.json},
    {blob id: contents}), from two overlapping git processes (gitio.read_matching)."""
    spec = f":(glob){_glob_escape(settings.prefix)}**/{DESCRIPTOR}"
    paths, contents = gitio.read_matching(rev, spec, settings.git_root)
    n, end = len(settings.prefix), len(DESCRIPTOR) + 1
    return {(p[n:-end] or "."): oid for p, oid in paths.items()}, contents


class Snapshot:
    """The package folders at head (a commit, or the working tree) and their descriptors:
    `keys` maps a folder to its key in `contents` (a blob id, or the folder itself)."""

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
        listed = gitio.ls_files(settings.root, f"*{DESCRIPTOR}", DESCRIPTOR)
        folders = [str(PurePosixPath(f).parent) for f in listed
                   if PurePosixPath(f).name == DESCRIPTOR and (settings.root / f).is_file()]
        return cls(settings, {f: f for f in folders},
                   {f: _read(settings.root / display(f)) for f in folders})


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # parse() then names the file


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[\\" else c for c in text)


def display(folder: str) -> str:
    return DESCRIPTOR if folder == "." else f"{folder}/{DESCRIPTOR}"


def parse(raw: bytes, file: str) -> dict[str, Any]:
    """The descriptor object; malformed JSON names the file, line and column."""
    return parse_json_object(raw, file)


def make_package(settings: Settings, folder: str, data: dict[str, Any]) -> Package:
    name = checked_name(data, display(folder))
    return Package(name=name, path=folder, folder=_abs(settings.root, folder), descriptor=data)


def _abs(root: Path, folder: str) -> Path:
    return root if folder == "." else root / folder


def read(settings: Settings, blobs: dict[str, str]) -> dict[str, bytes]:
    """The descriptors' contents, by blob id, in one git call."""
    return gitio.cat_blobs(list(blobs.values()), settings.git_root)


def load(settings: Settings, blobs: dict[str, str], folders: list[str],
         contents: dict[str, bytes]) -> list[Package]:
    """Packages for the given folders, every problem reported at once."""
    packages, problems = [], []
    for folder in folders:
        try:
            data = parse(contents.get(blobs[folder], b""), display(folder))
            packages.append(make_package(settings, folder, data))
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
    for folder, oid in blobs.items():
        raw = contents.get(oid, b"")
        if b'"depends_on"' not in raw:
            continue
        try:
            value = parse(raw, display(folder)).get("depends_on")
        except ConfigError:
            broken.append(f"{display(folder)}: not valid JSON; its depends_on is not known")
            continue
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list):
            continue
        bad = dict(globs.problems(value))
        broken += [f"{display(folder)} /depends_on/{i}: {why}" for i, why in bad.items()]
        kept = tuple(v for i, v in enumerate(value) if i not in bad and isinstance(v, str))
        if kept:
            found[folder] = kept
    return found, broken


def name_at(settings: Settings, oid: str, folder: str) -> str:
    """A removed package's name from its old descriptor; the folder's name if unreadable."""
    raw = gitio.cat_blobs([oid], settings.git_root).get(oid, b"")
    try:
        name = parse(raw, display(folder)).get("name")
    except ConfigError:
        name = None
    return name if isinstance(name, str) and name else PurePosixPath(folder).name
