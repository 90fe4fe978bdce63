"""The data package model: a folder with a datapackage.json, and where to find them.

`Package` is what every step works on. Loading checks only what the steps
cannot go on without (readable JSON, an object, a slug `name`); `validate.py`
does the full, one-pass check that `dvbuild validate` reports. The rules about a
name and a version live here (`name_problem`, `version_problem`), and every stage that
relies on them (validate, detect, publish, init) calls the same function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from dvbuild.errors import ConfigError, Problem
from dvbuild.util import parse_json_object, read_json_text

DESCRIPTOR = "datapackage.json"
# "\Z", never "$": "$" accepts a trailing newline ("name\n" would pass).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*\Z")
NAME_RULE = "a lowercase slug: a-z, 0-9, '-', '_', '.' (starting with a letter or digit)"
VERSION_RE = re.compile(r"^[0-9][0-9A-Za-z.+_-]*\Z")
MAX_VERSION = 64
VERSION_RULE = ("a version such as '1.2.0', '1.2' or '2026-03-30': a digit, then 0-9, A-Z, "
                "a-z, '.', '+', '_', '-'; at most 64 characters, no '..'")
DEFAULT_TIMEZONE = "Europe/Oslo"
DEFAULT_TIMEOUT = 3600
DEFAULT_TEST_TIMEOUT = 600
DEFAULT_VERSION = "0.1.0"
MAX_DESCRIPTOR_BYTES = 10 * 1024 * 1024


class Package(NamedTuple):
    name: str
    path: str  # posix, relative to the monorepo root ("packages/x"); "." for the root itself
    folder: Path  # absolute
    descriptor: Mapping[str, Any]

    @property
    def descriptor_file(self) -> str:
        return DESCRIPTOR if self.path == "." else f"{self.path}/{DESCRIPTOR}"

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
        return float(value) if value > 0 else float(DEFAULT_TIMEOUT)

    @property
    def test_timeout(self) -> float:
        value = self._typed("test_timeout", (int, float), DEFAULT_TEST_TIMEOUT)
        return float(value) if value > 0 else float(DEFAULT_TEST_TIMEOUT)

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
    def notebooks(self) -> list[str]:
        """Notebook paths relative to the folder, in run order."""
        listed = self._typed("notebooks", list, None)
        if listed:
            return [str(n) for n in listed]
        return sorted(p.name for p in self.folder.glob("*.ipynb") if p.is_file())


def read_descriptor(path: Path, display: str) -> dict[str, Any]:
    """Parse a datapackage.json; malformed JSON is a ConfigError with line and column."""
    return parse_descriptor(path, display)[1]


def parse_descriptor(path: Path, display: str) -> tuple[str, dict[str, Any]]:
    """(text, object) of a datapackage.json, or a ConfigError saying what is wrong with it."""
    text = read_json_text(path, display, max_bytes=MAX_DESCRIPTOR_BYTES)
    return text, parse_json_object(text, display)


def name_problem(value: object) -> str | None:
    """What is wrong with a package name (see NAME_RULE), or None."""
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


def load_package(folder: Path, root: Path) -> Package:
    folder = folder.resolve()
    rel = folder.relative_to(root.resolve()).as_posix()
    display = DESCRIPTOR if rel == "." else f"{rel}/{DESCRIPTOR}"
    data = read_descriptor(folder / DESCRIPTOR, display)
    return Package(name=checked_name(data, display), path=rel, folder=folder, descriptor=data)


def checked_name(descriptor: Mapping[str, Any], display: str) -> str:
    """The descriptor's `name`, or a ConfigError pointing at it."""
    name = descriptor.get("name")
    why = name_problem(name)
    if why:
        raise ConfigError(Problem(display, why, pointer="/name", expected=NAME_RULE))
    return str(name)


def package_dirs(files: Iterable[str]) -> list[str]:
    """Package folders (posix, relative) from a list of file paths; raises on nesting."""
    dirs = sorted(str(PurePosixPath(f).parent) for f in files
                  if PurePosixPath(f).name == DESCRIPTOR)
    check_not_nested(dirs)
    return dirs


def check_not_nested(dirs: list[str]) -> None:
    problems = []
    dirset = set(dirs)
    for d in dirs:
        for parent in PurePosixPath(d).parents:
            if str(parent) in dirset and str(parent) != d:
                problems.append(Problem(
                    f"{d}/{DESCRIPTOR}", f"package nested inside package {parent}",
                    expected="package folders that do not contain other package folders",
                ))
                break
    if problems:
        raise ConfigError(problems, hint="move the inner package out, or delete one datapackage.json")


def discover(root: Path) -> list[Package]:
    """Every package below root in the working tree (tracked or untracked, not ignored)."""
    from dvbuild import gitio

    dirs = package_dirs(gitio.ls_files(root, f"*{DESCRIPTOR}", DESCRIPTOR))
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
                             hint="give the folder that holds datapackage.json")
        chosen.append(by_folder[w])
    return chosen
