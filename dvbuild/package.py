"""The data package model: a folder with a datapackage.json, and where to find them.

`Package` is what every step works on. Loading checks only what the steps
cannot go on without (readable JSON, an object, a slug `name`); `validate.py`
does the full, one-pass check that `dvbuild validate` reports. The rules about a
name and a version live here (`name_problem`, `version_problem`), and every stage that
relies on them (validate, detect, publish, init) calls the same function.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from dvbuild.errors import ConfigError, Problem
from dvbuild.util import parse_json_object, read_json_text

DESCRIPTOR = "datapackage.json"  # the published form: what every output folder holds
# what a package folder may hold instead (one of them): YAML is read as JSON data
DESCRIPTORS = (DESCRIPTOR, "datapackage.yaml", "datapackage.yml")
PATHSPECS = tuple(spec for n in DESCRIPTORS for spec in (f"*{n}", n))  # git ls-files
ONE_DESCRIPTOR = "one descriptor per package folder: datapackage.json, or datapackage.yaml/.yml"
# "\Z", never "$": "$" accepts a trailing newline ("name\n" would pass).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*\Z")
NAME_RULE = "a lowercase slug: a-z, 0-9, '-', '_', '.' (starting with a letter or digit)"
MAX_NAME = 128  # a store key segment, an image name, a file name: all must hold it
VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+_-]*\Z")
MAX_VERSION = 64
VERSION_RULE = ("a version such as '1.2.0', '1.2' or '2026-03-30': a digit, then 0-9, A-Z, "
                "a-z, '.', '+', '_', '-'; at most 64 characters, no '..'")
DEFAULT_TIMEZONE = "Europe/Oslo"
DEFAULT_TIMEOUT = 3600
DEFAULT_TEST_TIMEOUT = 600
MAX_TIMEOUT = 365 * 24 * 3600  # a year: beyond it a number is a typo (and overflows a wait)
DEFAULT_VERSION = "0.1.0"
MAX_DESCRIPTOR_BYTES = 10 * 1024 * 1024
MAX_YAML_BYTES = 2 * 1024 * 1024  # pure-Python YAML parsing is ~50x slower than JSON


class Package(NamedTuple):
    name: str
    path: str  # posix, relative to the monorepo root ("packages/x"); "." for the root itself
    folder: Path  # absolute
    descriptor: Mapping[str, Any]
    file: str = DESCRIPTOR  # the descriptor's file name in the folder (see DESCRIPTORS)

    @property
    def descriptor_file(self) -> str:
        return self.file if self.path == "." else f"{self.path}/{self.file}"

    def get(self, key: str, default: Any = None) -> Any:
        value = self.descriptor.get(key)
        return default if value is None else value

    def _typed(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        """The field when it has the right type, else the default: a package that
        `validate` would reject must not crash a step that only loads it."""
        value = self.descriptor.get(key)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        return value if ok else default

    @property
    def version(self) -> str:
        return str(self.get("version", DEFAULT_VERSION))

    @property
    def title(self) -> str:
        return str(self.get("title", self.name))

    @property
    def description(self) -> str:
        return str(self.get("description", ""))

    @property
    def schedule(self) -> str | None:
        value = self.descriptor.get("schedule")
        return str(value) if value else None

    @property
    def timezone(self) -> str:
        return str(self._typed("timezone", str, DEFAULT_TIMEZONE))

    @property
    def timeout(self) -> float:
        value = self._typed("timeout", (int, float), DEFAULT_TIMEOUT)
        return float(value) if 0 < value <= MAX_TIMEOUT else float(DEFAULT_TIMEOUT)

    @property
    def test_timeout(self) -> float:
        value = self._typed("test_timeout", (int, float), DEFAULT_TEST_TIMEOUT)
        return float(value) if 0 < value <= MAX_TIMEOUT else float(DEFAULT_TEST_TIMEOUT)

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._typed("parameters", dict, {}))

    @property
    def test_parameters(self) -> dict[str, Any]:
        """`parameters` overlaid with `test_parameters`."""
        return {**self.parameters, **dict(self._typed("test_parameters", dict, {}))}

    @property
    def depends_on(self) -> tuple[str, ...]:
        value = self._typed("depends_on", list, [])
        return tuple(str(v) for v in value if isinstance(v, str))

    @property
    def secrets(self) -> dict[str, str]:
        return dict(self._typed("secrets", dict, {}))

    @property
    def job(self) -> dict[str, Any]:
        return dict(self._typed("job", dict, {}))

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [r for r in self._typed("resources", list, []) if isinstance(r, dict)]

    @property
    def reads(self) -> list[str]:
        """Names of the packages whose published data this one reads, in order, each once."""
        return [r.name for _, r in read_entries(self.descriptor.get("reads"))]

    @property
    def external_reads(self) -> list[str]:
        """Those of `reads` published from outside this monorepo."""
        return [r.name for _, r in read_entries(self.descriptor.get("reads")) if r.external]

    @property
    def notebooks(self) -> list[str]:
        """Notebook paths relative to the folder, in run order."""
        listed = self._typed("notebooks", list, None)
        if listed:
            return [str(n) for n in listed]
        return sorted(p.name for p in self.folder.glob("*.ipynb") if p.is_file())


def read_descriptor(path: Path, display: str) -> dict[str, Any]:
    """Parse a descriptor; malformed JSON/YAML is a ConfigError with line and column."""
    return parse_descriptor(path, display)[1]


def parse_descriptor(path: Path, display: str) -> tuple[str, dict[str, Any]]:
    """(text, object) of a datapackage.json (or .yaml/.yml, by its name), or a ConfigError
    saying what is wrong with it."""
    yaml = is_yaml(path.name)
    text = read_json_text(path, display, what="a YAML mapping" if yaml else "a JSON object",
                          max_bytes=MAX_YAML_BYTES if yaml else MAX_DESCRIPTOR_BYTES)
    return text, descriptor_object(text, display, yaml=yaml)


def is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def descriptor_object(text: str | bytes, file: str, *, yaml: bool | None = None) -> dict[str, Any]:
    """The descriptor in `text` (bytes: UTF-8), JSON or YAML as `file`'s name says. YAML
    is loaded safely: no aliases, no duplicate keys, only what JSON can hold."""
    if not (is_yaml(file) if yaml is None else yaml):
        return parse_json_object(text, file)
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(Problem(file, f"file is {len(text)} bytes",
                                  expected=f"at most {MAX_YAML_BYTES} bytes"))
    from dvbuild.validate.yamlio import parse_yaml_object

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError(Problem(file, f"not UTF-8 text (byte {e.start})")) from None
    return parse_yaml_object(text, file, what="a Data Package descriptor")


def descriptor_name(folder: Path, rel: str = "") -> str | None:
    """The descriptor file a folder holds (one of DESCRIPTORS), or None; two of them is a
    ConfigError naming both (`rel`: the folder as the user sees it)."""
    found = [n for n in DESCRIPTORS if (folder / n).is_file()]
    if len(found) > 1:
        shown = [n if rel in ("", ".") else f"{rel}/{n}" for n in found]
        raise ConfigError(two_descriptors(shown), hint="keep one of them")
    return found[0] if found else None


def two_descriptors(files: list[str]) -> Problem:
    return Problem(files[-1], f"{' and '.join(files)} are both in one folder",
                   expected=ONE_DESCRIPTOR)


def descriptor_paths(files: Iterable[str]) -> dict[str, str]:
    """{package folder: its descriptor's path} from file paths (posix, relative; the
    top folder is "."). Two descriptors in one folder is a ConfigError naming both.
    String splitting, not PurePosixPath: detect runs this over big listings."""
    found: dict[str, str] = {}
    problems = []
    for f in files:
        folder, _, name = f.rpartition("/")
        if name not in DESCRIPTORS:
            continue
        folder = folder or "."
        if folder in found:
            problems.append(two_descriptors(sorted([found[folder], f])))
        found[folder] = f
    if problems:
        raise ConfigError(problems, hint="keep one descriptor in each package folder")
    return found


def json_descriptor(folder: Path) -> None:
    """Make a copied package folder's descriptor datapackage.json, the published form:
    a datapackage.yaml/.yml is written as JSON in its place (what `test` and `run` do to
    their copy, so every output folder holds datapackage.json)."""
    import json

    name = descriptor_name(folder)
    if name is None or name == DESCRIPTOR:
        return
    data = read_descriptor(folder / name, str(folder / name))
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    (folder / DESCRIPTOR).write_text(text, encoding="utf-8")
    (folder / name).unlink()


def name_problem(value: object) -> str | None:
    """What is wrong with a package name (see NAME_RULE), or None."""
    if isinstance(value, str) and len(value) > MAX_NAME:
        return f"name is {len(value)} characters long (at most {MAX_NAME})"
    if isinstance(value, str) and NAME_RE.fullmatch(value):
        return None
    return "name is missing" if value is None else f"name is {_short(value)}"


def version_problem(value: object) -> str | None:
    """What is wrong with a version (see VERSION_RULE), or None. Publish orders versions
    by publish time, so any store-key-safe token will do: semver, '1.2', '2026-03-30'."""
    if not isinstance(value, str):
        return f"version is {_short(value)}"
    if len(value) > MAX_VERSION:
        return f"version is {len(value)} characters long"
    if not VERSION_RE.fullmatch(value) or ".." in value:
        return f"version is {_short(value)}"
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- paths: resource and notebook paths, and the links in a package folder -----------

PATH_RULE = "a relative path inside the package folder, '/' between folders"
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def path_problem(rel: object) -> str | None:
    """Why `rel` is not a path of a file inside a package folder ("is absolute", ...), or
    None. Only the text: `link_problem` follows what exists on disk."""
    if not isinstance(rel, str):
        return f"is {_short(rel)}"
    bad = _CONTROL_RE.search(rel)
    if bad:
        return f"holds a control character ({bad[0]!r})"
    if _URL_RE.match(rel):
        return "is a URL"
    if "\\" in rel:
        return "holds a backslash"
    pure = PurePosixPath(rel)
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", rel):
        return "is absolute"
    if ".." in pure.parts:
        return "contains '..'"
    if not rel.strip() or not pure.parts or rel.endswith("/"):
        return "is empty" if not rel.strip() else "is not a file path"
    return None


def link_problem(folder: Path, rel: str, what: str = "folder") -> str | None:
    """Why folder/rel (a path `path_problem` passed) leaves the folder (`what`: how the
    message names it) through a symbolic link, or None. One lstat per component;
    resolve() only when there is a link."""
    current = folder
    for part in PurePosixPath(rel).parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                break
        except (OSError, ValueError):
            return None  # the rest does not exist (yet): nothing to follow
    else:
        return None
    try:
        target = (folder / rel).resolve()
        inside = target.is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):  # symlink loops, odd names
        return "cannot be resolved (a symbolic link loop?)"
    return None if inside else f"leaves the {what} through a symbolic link"


def link_problems(folder: Path) -> list[tuple[str, str]]:
    """(path relative to folder, why) for each symbolic link in the folder that leaves it
    or makes a loop: what a copy that follows links (a test run's) would never finish."""
    top = folder.resolve()
    found: dict[str, str] = {}
    pending: list[tuple[Path, tuple[Path, ...]]] = [(top, (top,))]
    while pending:  # the walk a copy makes: into folders, through links
        real, stack = pending.pop()
        try:
            entries = list(os.scandir(real))
        except OSError:
            continue
        for entry in entries:
            why, target = _link_target(entry, top, stack)
            if why:
                found.setdefault(Path(entry.path).relative_to(top).as_posix(), why)
            elif target is not None:
                pending.append((target, (*stack, target)))
    return sorted(found.items())


def _link_target(entry: os.DirEntry[str], top: Path,
                 stack: tuple[Path, ...]) -> tuple[str | None, Path | None]:
    """(why the entry is a bad link, None) or (None, the folder a walk goes into, if any)."""
    if not entry.is_symlink():
        return None, Path(entry.path) if entry.is_dir(follow_symlinks=False) else None
    try:
        target = Path(entry.path).resolve()
    except (OSError, RuntimeError):
        return "is a symbolic link that cannot be resolved (a loop)", None
    if not target.is_relative_to(top):
        return f"is a symbolic link that leaves the package folder (to {target})", None
    if target in stack:
        return "is a symbolic link loop (it points to a folder it is in)", None
    return None, target if target.is_dir() else None


def load_package(folder: Path, root: Path) -> Package:
    folder = folder.resolve()
    rel = folder.relative_to(root.resolve()).as_posix()
    file = descriptor_name(folder, rel) or DESCRIPTOR  # none: the error names the JSON one
    display = file if rel == "." else f"{rel}/{file}"
    data = read_descriptor(folder / file, display)
    return Package(name=checked_name(data, display), path=rel, folder=folder, descriptor=data,
                   file=file)


def checked_name(descriptor: Mapping[str, Any], display: str) -> str:
    """The descriptor's `name`, or a ConfigError pointing at it."""
    name = descriptor.get("name")
    why = name_problem(name)
    if why:
        raise ConfigError(Problem(display, why, pointer="/name", expected=NAME_RULE))
    return str(name)


def package_dirs(files: Iterable[str]) -> list[str]:
    """Package folders (posix, relative) from a list of file paths; raises on nesting
    and on two descriptors in one folder."""
    found = descriptor_paths(files)
    dirs = sorted(found)
    check_not_nested(dirs, found)
    return dirs


def check_not_nested(dirs: list[str], files: Mapping[str, str] | None = None) -> None:
    """A package folder inside another is a ConfigError naming the inner descriptor
    (`files`: folder -> its descriptor's path; datapackage.json when not given)."""
    problems = []
    dirset = set(dirs)
    for d in dirs:
        for parent in PurePosixPath(d).parents:
            if str(parent) in dirset and str(parent) != d:
                problems.append(Problem(
                    (files or {}).get(d) or f"{d}/{DESCRIPTOR}",
                    f"package nested inside package {parent}",
                    expected="package folders that do not contain other package folders",
                ))
                break
    if problems:
        raise ConfigError(problems, hint="move the inner package out, or delete one datapackage.json")


def discover(root: Path) -> list[Package]:
    """Every package below root in the working tree (tracked or untracked, not ignored)."""
    from dvbuild import gitio

    dirs = package_dirs(gitio.ls_files(root, *PATHSPECS))
    packages: list[Package] = []
    problems: list[Problem] = []
    for d in dirs:
        try:
            packages.append(load_package(root / d, root))
        except ConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ConfigError(problems)
    check_unique_names(packages)
    return packages


def check_unique_names(packages: list[Package]) -> None:
    """Names key the store, images and manifests: two packages may not share one."""
    seen: dict[str, Package] = {}
    problems = []
    for p in packages:
        if p.name in seen:
            problems.append(Problem(p.descriptor_file, f"name {p.name!r} is also used by "
                                    f"{seen[p.name].descriptor_file}", pointer="/name",
                                    expected="a name unique in the repository"))
        seen[p.name] = p
    if problems:
        raise ConfigError(problems)


def folder_around(cwd: Path, root: Path) -> Path | None:
    """The package folder the working directory is in (at or above `cwd`, below the
    monorepo `root`), or None: what PATH defaults to when a command is run inside one."""
    cwd, root = cwd.resolve(), root.resolve()
    if root not in cwd.parents:
        return None
    for folder in (cwd, *cwd.parents):
        if folder == root:
            return None
        if any((folder / n).is_file() for n in DESCRIPTORS):
            return folder
    return None


def select(packages: list[Package], paths: Iterable[Path], root: Path) -> list[Package]:
    """The packages named by folder paths on the command line (all when none given)."""
    wanted = [Path(p).resolve() for p in paths]
    if not wanted:
        return packages
    by_folder = {p.folder: p for p in packages}
    chosen = []
    for w in wanted:
        if w not in by_folder:
            from dvbuild.errors import UsageError

            raise UsageError(f"{w}: not a package folder (no {DESCRIPTOR} there)",
                             hint="give the folder that holds datapackage.json "
                                  "(or datapackage.yaml)")
        chosen.append(by_folder[w])
    return chosen


# --- reads: which packages read which, and the order they run in ---------------------

class Read(NamedTuple):
    """One entry of `reads`: a package name, and whether it is published outside the monorepo."""

    name: str
    external: bool = False


def read_entries(value: object) -> list[tuple[int, Read]]:
    """The well-formed entries of a `reads` field with their index, the first of each name
    (validate reports the others)."""
    if not isinstance(value, list):
        return []
    found: dict[str, tuple[int, Read]] = {}
    for i, entry in enumerate(value):
        read = _read(entry)
        if read is not None and read.name not in found:
            found[read.name] = (i, read)
    return list(found.values())


def _read(entry: object) -> Read | None:
    name, external = (entry.get("name"), entry.get("external", False)) \
        if isinstance(entry, dict) else (entry, False)
    if name_problem(name) or not isinstance(external, bool):
        return None
    return Read(str(name), external)


def local_reads(value: object) -> set[str]:
    """The names in a `reads` field that are packages of this monorepo (not marked external)."""
    return {r.name for _, r in read_entries(value) if not r.external}


def read_by(packages: Sequence[Package]) -> dict[str, list[str]]:
    """name -> the packages (by path) that list it in their `reads`."""
    found: dict[str, list[str]] = {}
    for p in sorted(packages, key=lambda p: p.path):
        for name in p.reads:
            found.setdefault(name, []).append(p.name)
    return found


def read_layers(packages: Sequence[Package]) -> list[list[Package]]:
    """The packages in run order: layer 0 reads none of the others, each later layer reads
    only packages of earlier ones; each layer by path. Packages on a read cycle (validate
    refuses those), or reading one, come last, in one layer."""
    chosen = sorted(packages, key=lambda p: p.path)
    path_of = {p.name: p.path for p in chosen}
    needs = {p.path: {path_of[n] for n in local_reads(p.descriptor.get("reads"))
              if n in path_of} - {p.path}
             for p in chosen}
    layers, rest = _peel([p.path for p in chosen], needs)
    by_path = {p.path: p for p in chosen}
    return [[by_path[x] for x in layer] for layer in [*layers, rest] if layer]


def read_cycles(graph: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """For each name on a cycle of `graph` (name -> the names it reads; names not in the
    graph and self-reads are left out), the shortest cycle from it: ["a", "b", "a"]."""
    order = sorted(graph)
    needs = {n: {m for m in graph[n] if m in graph and m != n} for n in order}
    _, rest = _peel(order, needs)  # what is left reads a cycle or is on one
    left = set(rest)
    cycles = {n: _cycle_from(n, needs, left) for n in rest}
    return {n: c for n, c in cycles.items() if c}


def _peel(order: list[str], needs: Mapping[str, set[str]]) -> tuple[list[list[str]], list[str]]:
    """Kahn's layers of `order` (a node comes after the nodes it needs, each layer in
    `order`), and the nodes that never come free (on or behind a cycle)."""
    rank = {n: i for i, n in enumerate(order)}
    waiting = {n: set(needs[n]) for n in order}
    readers: dict[str, list[str]] = {}
    for n in order:
        for m in waiting[n]:
            readers.setdefault(m, []).append(n)
    layers: list[list[str]] = []
    layer = [n for n in order if not waiting[n]]
    while layer:
        layers.append(layer)
        freed = [r for n in layer for r in readers.get(n, []) if _free(waiting[r], n)]
        layer = sorted(freed, key=rank.__getitem__)
    placed = {n for layer in layers for n in layer}
    return layers, [n for n in order if n not in placed]


def _free(waiting: set[str], done: str) -> bool:
    waiting.discard(done)
    return not waiting


def _cycle_from(start: str, needs: Mapping[str, set[str]], within: set[str]) -> list[str]:
    """The shortest path start -> ... -> start (breadth first), or [] when there is none."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(needs[node] & within):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return []
