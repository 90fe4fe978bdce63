"""`dvbuild validate`: every problem in every datapackage.json, in one pass.

    folder --parse--> descriptor --dvbuild's fields (fields.py)--+--> problems --lines--> Problem
                                 --Data Package spec (spec.py)----+
    every descriptor of the repo --`reads` across packages (reads.py)--> problems

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
from dvbuild.package import DESCRIPTOR, DESCRIPTORS, PATHSPECS, is_yaml, parse_descriptor
from dvbuild.settings import CONFIG_FILE, Settings
from dvbuild.validate import fields, spec
from dvbuild.validate import positions as jsonpos

Issue = spec.Issue
RESOURCE_NAME_RE = spec.RESOURCE_NAME_RE


def validate(settings: Settings, paths: list[Path], *, data: bool = False,
             jobs: bool = True, warnings: list[Problem] | None = None) -> list[Problem]:
    """Problems in the named package folders (every package when `paths` is empty);
    with `jobs`, also what `render` would refuse in a scheduled package's manifest (the
    caller turns it off when dvbuild.yaml, which the manifests read, is broken).
    `warnings` collects what is allowed but looks wrong (a typo'd custom key)."""
    root = settings.root
    problems: list[Problem] = []
    dirs = _package_dirs(root, problems)
    chosen = dirs if not paths else _chosen(paths, root, problems)
    descriptors: dict[str, Mapping[str, Any]] = {}  # rel -> descriptor, every readable one
    names: dict[str, str] = {}
    for rel in chosen:
        descriptor, found, notes = _check(root, rel, data=data)
        problems += found
        if warnings is not None:
            warnings += notes
        if descriptor is not None:
            descriptors[rel] = descriptor
            if isinstance(descriptor.get("name"), str):
                problems += _duplicate(root, descriptor["name"], rel, names)
    mine = {rel: descriptors[rel] for rel in chosen if rel in descriptors}
    problems += _others(root, sorted(set(dirs) - set(chosen)), names, descriptors)
    problems += _read_problems(root, descriptors, chosen) + _config_link(root)
    return problems + (_job_problems(settings, mine, problems) if jobs else [])


def _config_link(root: Path) -> list[Problem]:
    """dvbuild.yaml goes into every image's build context: not through a link out."""
    from dvbuild.package import link_problem

    why = link_problem(root, CONFIG_FILE, "repository")
    return [Problem(CONFIG_FILE, why, expected="a file inside the repository")] if why else []


def _job_problems(settings: Settings, descriptors: Mapping[str, Mapping[str, Any]],
                  found: list[Problem]) -> list[Problem]:
    """The manifest rules `render` applies (team, env, resources, ...) to each scheduled
    package, each problem once: not where another check already pointed."""
    from dvbuild.manifests.render import job_problems
    from dvbuild.package import Package, name_problem

    seen = {(p.file, p.pointer) for p in found}
    new: list[Problem] = []
    for rel, descriptor in descriptors.items():
        name = descriptor.get("name")
        if name_problem(name):
            continue  # reported already; render refuses the repository for it
        package = Package(str(name), rel, (settings.root / rel).resolve(), descriptor,
                          _name_in(settings.root / rel))
        for p in job_problems(settings, package):
            if (p.file, p.pointer) not in seen:
                seen.add((p.file, p.pointer))
                new.append(p)
    return _located(settings.root, new)


def _package_dirs(root: Path, problems: list[Problem]) -> list[str]:
    """Every package folder of the repository; nested ones are reported, and kept."""
    from dvbuild.package import check_not_nested

    files = descriptor_files(root)
    shown = {str(PurePosixPath(f).parent): f for f in files
             if PurePosixPath(f).name in DESCRIPTORS}  # two in one: _check says so
    dirs = sorted(shown)
    try:
        check_not_nested(dirs, shown)
    except ConfigError as e:  # nested packages: report them, and check every folder anyway
        problems += e.problems
    return dirs


def _others(root: Path, others: list[str], names: dict[str, str],
            descriptors: dict[str, Mapping[str, Any]]) -> list[Problem]:
    """The packages not asked about: a name may clash with one, and `reads` may name one."""
    problems = []
    for rel in others:
        descriptor = _parsed(root / rel)
        if descriptor is None:
            continue
        descriptors[rel] = descriptor
        other = descriptor.get("name")
        if isinstance(other, str) and other in names:
            problems.append(_dup_problem(root, names[other], other, rel))
    return problems


def _read_problems(root: Path, descriptors: Mapping[str, Mapping[str, Any]],
                   chosen: list[str]) -> list[Problem]:
    from dvbuild.validate import reads

    found = [Problem(_display(root, rel), message, pointer, expected=expected)
             for rel, (pointer, message, expected) in reads.issues(descriptors, chosen)]
    return _located(root, found)


def _located(root: Path, problems: list[Problem]) -> list[Problem]:
    """Lines for problems found after the files were checked (rare: read them again)."""
    out: list[Problem] = []
    for file in dict.fromkeys(p.file for p in problems):
        mine = [p for p in problems if p.file == file]
        try:
            text = (root / file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            out += mine
            continue
        yaml = file == CONFIG_FILE or is_yaml(file)
        out += _yaml_lines(mine, text) if yaml else with_lines(mine, text)
    return out


def _yaml_lines(problems: list[Problem], text: str) -> list[Problem]:
    from dvbuild.validate.positions import yaml_positions

    where = yaml_positions(text, [p.pointer for p in problems])
    return [p._replace(line=where[p.pointer][0], column=where[p.pointer][1])
            if p.pointer in where else p for p in problems]


def descriptor_files(root: Path) -> list[str]:
    """Every datapackage.json (.yaml, .yml) below root: git's view (tracked and untracked,
    not ignored), or outside a git repository, a walk that skips hidden folders."""
    from dvbuild import gitio
    from dvbuild.errors import DvbuildError

    try:
        return [f for f in gitio.ls_files(root, *PATHSPECS)
                if PurePosixPath(f).name in DESCRIPTORS]
    except DvbuildError:
        found = []
        for folder, subdirs, names in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")
                                and d not in ("node_modules", "__pycache__"))
            found += [(Path(folder) / n).relative_to(root).as_posix()
                      for n in DESCRIPTORS if n in names]
        return sorted(found)


def _chosen(paths: list[Path], root: Path, problems: list[Problem]) -> list[str]:
    chosen = []
    for p in paths:
        # relative to the working directory, else (a convenience with --repo) to the root
        folder = p.resolve() if p.exists() or p.is_absolute() else (root / p).resolve()
        if folder.name in DESCRIPTORS and folder.is_file():
            folder = folder.parent
        try:
            rel = folder.relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = str(p)
        if not any((folder / n).is_file() for n in DESCRIPTORS):
            problems.append(Problem(str(p), f"no {DESCRIPTOR} in {p}", expected="a package "
                                    "folder (holding datapackage.json, .yaml or .yml)"))
        elif rel not in chosen:
            chosen.append(rel)
    return chosen


def _duplicate(root: Path, name: str, rel: str, names: dict[str, str]) -> list[Problem]:
    if name in names:
        return [_dup_problem(root, rel, name, names[name])]
    names[name] = rel
    return []


def _dup_problem(root: Path, rel: str, name: str, other: str) -> Problem:
    problem = Problem(_display(root, rel),
                      f"name {name!r} is also used by {_display(root, other)}",
                      pointer="/name", expected="a name unique in the repository")
    return _located(root, [problem])[0]


def name_of(folder: Path) -> str | None:
    name = (_parsed(folder) or {}).get("name")
    return name if isinstance(name, str) else None


def _parsed(folder: Path) -> dict[str, Any] | None:
    try:
        return parse_descriptor(folder / _name_in(folder), "")[1]
    except ConfigError:
        return None


def _name_in(folder: Path) -> str:
    """The folder's descriptor file (the first of DESCRIPTORS there; JSON when none)."""
    return next((n for n in DESCRIPTORS if (folder / n).is_file()), DESCRIPTOR)


def _display(root: Path, rel: str) -> str:
    name = _name_in(root / rel)
    return name if rel in (".", "") else f"{rel}/{name}"


def check_folder(root: Path, rel: str, *, data: bool = False) -> tuple[str | None, list[Problem]]:
    """(the package's name when readable, its problems) for one package folder."""
    descriptor, problems, _ = _check(root, rel, data=data)
    name = (descriptor or {}).get("name")
    return (name if isinstance(name, str) else None), problems


def _check(root: Path, rel: str, *, data: bool = False
           ) -> tuple[dict[str, Any] | None, list[Problem], list[Problem]]:
    """(the descriptor when readable, its problems and its warnings, by line) for one
    package folder."""
    from dvbuild.package import descriptor_name

    folder = root / rel
    try:
        name = descriptor_name(folder, rel) or DESCRIPTOR  # two of them: a ConfigError
        display = name if rel in (".", "") else f"{rel}/{name}"
        text, descriptor = parse_descriptor(folder / name, display)
    except ConfigError as e:
        return None, e.problems, []
    problems = descriptor_problems(descriptor, display, folder, root=root)
    if data and not problems:
        problems = _data_problems(descriptor, display, folder)
    lines = _yaml_lines if is_yaml(name) else with_lines
    located = sorted(lines(problems, text), key=lambda p: (p.line or 0, p.column or 0))
    notes = lines(descriptor_warnings(descriptor, display), text)
    links = _link_problems(folder, rel) + _depends_links(root, rel, descriptor)
    return descriptor, located + links, notes


def _link_problems(folder: Path, rel: str) -> list[Problem]:
    """Links a test run's copy of the folder would follow out of it, or round in a loop."""
    from dvbuild.package import link_problems

    prefix = "" if rel in (".", "") else f"{rel}/"
    return [Problem(f"{prefix}{path}", why, expected="links that stay inside the package "
                    "folder and do not point to a folder they are in")
            for path, why in link_problems(folder)]


def _depends_links(root: Path, rel: str, descriptor: Mapping[str, Any]) -> list[Problem]:
    """depends_on files (as the image's build context lists them) that a symbolic link
    takes out of the monorepo: `build` refuses them. The folder's own links: above."""
    from dvbuild.errors import DvbuildError
    from dvbuild.image.context import outside_links, repo_files
    from dvbuild.package import Package

    if not isinstance(descriptor.get("depends_on"), list) or not descriptor["depends_on"]:
        return []
    package = Package(str(descriptor.get("name")), rel or ".", (root / rel).resolve(), descriptor)
    prefix = "" if package.path == "." else package.path + "/"
    try:
        files = [f for f in repo_files(root, package)
                 if not f.startswith(prefix) and f != CONFIG_FILE]
    except DvbuildError:  # not a git repository: no build context to check
        return []
    return outside_links(root, package, files)


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


def descriptor_warnings(descriptor: Mapping[str, Any], file: str) -> list[Problem]:
    """What is allowed but looks wrong: custom keys that look like typos of known ones."""
    return [Problem(file, message, pointer, expected=expected)
            for pointer, message, expected in fields.custom_keys(descriptor)]


def _data_problems(d: Mapping[str, Any], file: str, folder: Path) -> list[Problem]:
    """Read each resource's data with frictionless (only for `validate --data`)."""
    from dvbuild.validate import data as resources_check

    return resources_check.check(d, file, folder)
