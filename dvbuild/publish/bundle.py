"""A built package directory, checked and hashed: what one version of it will hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from dvbuild import console
from dvbuild.errors import ConfigError, Problem, UsageError
from dvbuild.package import (
    DEFAULT_VERSION,
    DESCRIPTOR,
    VERSION_RULE,
    checked_name,
    read_descriptor,
    version_problem,
)
from dvbuild.publish.contents import hash_files, version_paths
from dvbuild.publish.manifest import FileEntry, version_id
from dvbuild.publish.resources import summaries
from dvbuild.util import read_json_object

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report

REPORT = "report.json"


@dataclass(frozen=True)
class Bundle:
    """A checked package directory: what will be uploaded, and the manifest's facts."""

    name: str
    semver: str
    folder: Path
    descriptor: Mapping[str, Any]
    files: tuple[FileEntry, ...]
    report: Report | None  # report.json of the run that built the directory
    notebooks: tuple[dict[str, Any], ...]
    commit: str | None
    input_hash: str | None

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @cached_property
    def resources(self) -> list[dict[str, Any]]:
        # Lazy: counting CSV rows reads the data, and only a new manifest needs it.
        return summaries(self.folder, self.descriptor, self.report, self.files)

    @cached_property
    def version(self) -> str:
        return version_id(self.semver, [f.as_dict() for f in self.files])

    def manifest(self, *, published: str) -> dict[str, Any]:
        d = self.descriptor
        job = d.get("job") if isinstance(d.get("job"), dict) else {}
        return {
            "name": self.name, "version": self.version, "semver": self.semver,
            "published": published, "commit": self.commit, "input_hash": self.input_hash,
            "title": d.get("title") or self.name, "description": d.get("description") or "",
            "keywords": list(d.get("keywords") or []), "team": (job or {}).get("team"),
            "schedule": d.get("schedule") or None, "timezone": d.get("timezone"),
            "bytes": self.bytes,
            "files": [f.as_dict() for f in sorted(self.files, key=lambda f: f.path)],
            "resources": list(self.resources), "notebooks": list(self.notebooks),
        }


def collect(folder: Path, *, commit: str | None = None, input_hash: str | None = None) -> Bundle:
    """Check a built package directory and hash what a version of it holds. Raises
    ConfigError (file, JSON pointer, what was expected) for anything unpublishable."""
    display = str(folder / DESCRIPTOR)
    if not (folder / DESCRIPTOR).is_file():
        what = "no datapackage.json here" if folder.is_dir() else "not a directory"
        raise ConfigError(Problem(str(folder), what, expected="a built package directory "
                                  "holding datapackage.json (what dvbuild test writes to OUT/<name>/)"))
    descriptor = read_descriptor(folder / DESCRIPTOR, display)
    name, semver = _name_and_semver(descriptor, display)
    report = _read_report(folder)
    root = folder.resolve()
    problems = _spec_problems(descriptor, display)
    paths, types, notebooks = version_paths(root, descriptor, display, problems)
    if problems:
        raise ConfigError(problems)
    return Bundle(
        name=name, semver=semver, folder=root, descriptor=descriptor,
        files=tuple(hash_files(root, paths, types)), report=report, notebooks=tuple(notebooks),
        commit=(report and report.get("commit")) or commit,
        input_hash=(report and report.get("input_hash")) or input_hash,
    )


def collect_all(dirs: Sequence[Path], *, commit: str | None,
                input_hash: str | None) -> list[Bundle]:
    """Every directory checked before anything is written: all problems, or all bundles."""
    if not dirs:
        raise UsageError("no directory to publish", hint="dvbuild publish OUT/<name> --store URL")
    bundles, problems = [], []
    for d in dirs:
        try:
            bundles.append(collect(Path(d), commit=commit, input_hash=input_hash))
        except ConfigError as e:
            problems.extend(e.problems)
    if problems:
        raise ConfigError(problems, hint="nothing was published")
    names = [b.name for b in bundles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError([Problem(str(b.folder / "datapackage.json"),
                                   f"package {b.name!r} given twice", pointer="/name")
                           for b in bundles if b.name in dupes])
    return bundles


def _name_and_semver(descriptor: Mapping[str, Any], display: str) -> tuple[str, str]:
    name = checked_name(descriptor, display)
    value = descriptor.get("version")
    semver = DEFAULT_VERSION if value is None else value
    why = version_problem(semver)
    if why:
        raise ConfigError(Problem(display, why, pointer="/version", expected=VERSION_RULE))
    return name, str(semver)


def _spec_problems(descriptor: Mapping[str, Any], display: str) -> list[Problem]:
    """What the Data Package spec says is wrong (dvbuild validate's check of it)."""
    from dvbuild.validate import spec

    return [Problem(display, message, pointer, expected=expected)
            for pointer, message, expected in spec.problems(descriptor)]


def _read_report(folder: Path) -> Report | None:
    """The run's report.json; a missing or unreadable one only costs the run's facts."""
    path = folder / REPORT
    if not path.exists():
        return None
    try:
        return cast("Report", read_json_object(path, what="a report.json object"))
    except ConfigError as e:
        console.log(f"warning: report ignored: {e}")
        return None
