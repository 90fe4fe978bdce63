"""`dvbuild validate`: every problem in every datapackage.json, in one pass.

    folder --parse--> descriptor --dvbuild's fields (fields.py)--+--> problems --lines--> Problem
                                 --Data Package spec (spec.py)----+

Each Problem names the file, the JSON pointer, the line (found by a token
scan of the text, only when there is something to report), what was found and
what was expected. Data files are read only with `data=True`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from dvbuild.errors import ConfigError, Problem
from dvbuild.package import DESCRIPTOR, parse_descriptor
from dvbuild.settings import Settings
from dvbuild.validate import fields, spec
from dvbuild.validate import positions as jsonpos

Issue = spec.Issue
RESOURCE_NAME_RE = spec.RESOURCE_NAME_RE


def validate(settings: Settings, paths: list[Path], *, data: bool = False) -> list[Problem]:
    """Problems in the named package folders (every package when `paths` is empty)."""
    root = settings.root
    problems: list[Problem] = []
    from dvbuild.package import check_not_nested

    files = descriptor_files(root)
    dirs = sorted(str(PurePosixPath(f).parent) for f in files
                  if PurePosixPath(f).name == DESCRIPTOR)
    try:
        check_not_nested(dirs)
    except ConfigError as e:  # nested packages: report them, and check every folder anyway
        problems += e.problems
    chosen = dirs if not paths else _chosen(paths, root, problems)
    names: dict[str, str] = {}
    for rel in chosen:
        name, found = check_folder(root, rel, data=data)
        problems += found
        if name is not None:
            problems += _duplicate(root, name, rel, names)
    if paths:  # a name may clash with a package that was not asked about
        for rel in set(dirs) - set(chosen):
            other = name_of(root / rel)
            if other in names:
                problems.append(_dup_problem(root, names[other], other, rel))
    return problems


def descriptor_files(root: Path) -> list[str]:
    """Every datapackage.json below root: git's view (tracked and untracked, not ignored),
    or outside a git repository, a walk that skips hidden folders."""
    from dvbuild import gitio
    from dvbuild.errors import DvbuildError

    try:
        return gitio.ls_files(root, f"*{DESCRIPTOR}", DESCRIPTOR)
    except DvbuildError:
        found = []
        for folder, subdirs, names in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")
                                and d not in ("node_modules", "__pycache__"))
            if DESCRIPTOR in names:
                found.append((Path(folder) / DESCRIPTOR).relative_to(root).as_posix())
        return sorted(found)


def _chosen(paths: list[Path], root: Path, problems: list[Problem]) -> list[str]:
    chosen = []
    for p in paths:
        # relative to the working directory, else (a convenience with --repo) to the root
        folder = p.resolve() if p.exists() or p.is_absolute() else (root / p).resolve()
        if folder.name == DESCRIPTOR and folder.is_file():
            folder = folder.parent
        try:
            rel = folder.relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = str(p)
        if not (folder / DESCRIPTOR).is_file():
            problems.append(Problem(str(p), f"no {DESCRIPTOR} in {p}",
                                    expected="a package folder"))
        elif rel not in chosen:
            chosen.append(rel)
    return chosen


def _duplicate(root: Path, name: str, rel: str, names: dict[str, str]) -> list[Problem]:
    if name in names:
        return [_dup_problem(root, rel, name, names[name])]
    names[name] = rel
    return []


def _dup_problem(root: Path, rel: str, name: str, other: str) -> Problem:
    problem = Problem(_display(rel), f"name {name!r} is also used by {_display(other)}",
                      pointer="/name", expected="a name unique in the repository")
    try:  # rare: reading the file again for its line is fine
        text = (root / rel / DESCRIPTOR).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return problem
    return with_lines([problem], text)[0]


def name_of(folder: Path) -> str | None:
    try:
        _, data = parse_descriptor(folder / DESCRIPTOR, "")
    except ConfigError:
        return None
    name = data.get("name")
    return name if isinstance(name, str) else None


def _display(rel: str) -> str:
    return DESCRIPTOR if rel in (".", "") else f"{rel}/{DESCRIPTOR}"


def check_folder(root: Path, rel: str, *, data: bool = False) -> tuple[str | None, list[Problem]]:
    """(the package's name when readable, its problems) for one package folder."""
    display = _display(rel)
    folder = root / rel
    try:
        text, descriptor = parse_descriptor(folder / DESCRIPTOR, display)
    except ConfigError as e:
        return None, e.problems
    problems = descriptor_problems(descriptor, display, folder, root=root)
    if data and not problems:
        problems = _data_problems(descriptor, display, folder)
    name = descriptor.get("name")
    located = sorted(with_lines(problems, text), key=lambda p: (p.line or 0, p.column or 0))
    return (name if isinstance(name, str) else None), located


def with_lines(problems: list[Problem], text: str) -> list[Problem]:
    """The same problems, each with the line and column of its pointer in `text`."""
    wanted = [p.pointer for p in problems if p.line is None]
    if not wanted:
        return problems
    where = jsonpos.positions(text, wanted)
    out = []
    for p in problems:
        if p.line is None and p.pointer in where:
            line, column = where[p.pointer]
            p = Problem(p.file, p.message, p.pointer, line, column, p.expected)
        out.append(p)
    return out


def descriptor_problems(descriptor: Mapping[str, Any], file: str, folder: Path,
                        root: Path | None = None, *,
                        notebook_folder: Path | None = None) -> list[Problem]:
    """Every problem in one parsed descriptor (no line numbers; see with_lines). Resource
    paths are checked in `folder`, notebooks in `notebook_folder` (default: the same)."""
    issues = list(fields.issues(descriptor, folder, root, notebook_folder or folder))
    issues += spec.problems(descriptor, folder)
    seen: set[tuple[str, str]] = set()
    problems = []
    for pointer, message, expected in issues:
        if (pointer, message) not in seen:
            seen.add((pointer, message))
            problems.append(Problem(file, message, pointer, expected=expected))
    return problems


def _data_problems(d: Mapping[str, Any], file: str, folder: Path) -> list[Problem]:
    """Read each resource's data with frictionless (only for `validate --data`)."""
    from dvbuild.validate import data as resources_check

    return resources_check.check(d, file, folder)
