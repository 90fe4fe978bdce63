"""A built package directory, checked and hashed: what one version of it will hold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
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
from dvbuild.publish.contents import hash_files, local_paths, version_paths
from dvbuild.publish.manifest import FileEntry, descriptor_entry, version_id
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
    def content(self) -> list[dict[str, Any]]:
        """What the version id hashes: what a consumer reads. datapackage.json without its
        run-volatile fields, the resource files and the docs (README, METADATA, LICENSE);
        not the executed notebooks and their HTML, published with the version but never
        making a new one."""
        resources = self.descriptor.get("resources")
        listed = resources if isinstance(resources, list) else []
        data = {PurePosixPath(str(p)).as_posix() for r in listed if isinstance(r, dict)
                for _, p in local_paths(r)}
        runs = {p for nb in self.notebooks for p in (nb["path"], nb["html"]) if p} - data
        return [descriptor_entry(f.path, self.descriptor) if f.path == DESCRIPTOR
                else f.as_dict() for f in self.files if f.path not in runs]

    @cached_property
    def version(self) -> str:
        return version_id(self.semver, self.content)

    @property
    def mode(self) -> str | None:
        """The run that wrote the folder: `test`, `production`, None (no report.json)."""
        from dvbuild.notebooks.report import recorded_mode

        value = self.report.get("mode") if self.report else None
        return recorded_mode(value) if isinstance(value, str) else None

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the data came from, as its report.json says: recorded in _manifest.json,
        never part of the version id."""
        report: Mapping[str, Any] = self.report or {}
        return {"mode": self.mode, "parameters": report.get("parameters"),
                "commit": self.commit, "input_hash": self.input_hash,
                "dvbuild_version": report.get("dvbuild_version"),
                "image": report.get("image"), "run_url": report.get("run_url")}

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """What the run read with read_dp (its report's `inputs`): provenance for the
        manifest, never part of the version id, which hashes the files alone."""
        from dvbuild.api.read import INPUT_KEYS

        listed = self.report.get("inputs") if self.report else None
        entries = listed if isinstance(listed, list) else []
        return [{k: e.get(k) for k in INPUT_KEYS} for e in entries
                if isinstance(e, dict) and e.get("name") and e.get("version")]

    def manifest(self, *, published: str) -> dict[str, Any]:
        d = self.descriptor
        job = d.get("job") if isinstance(d.get("job"), dict) else {}
        return {
            "name": self.name, "version": self.version, "semver": self.semver,
            "published": published, **self.provenance,
            "title": d.get("title") or self.name, "description": d.get("description") or "",
            "keywords": list(d.get("keywords") or []), "team": (job or {}).get("team"),
            "schedule": d.get("schedule") or None, "timezone": d.get("timezone"),
            "bytes": self.bytes,
            "files": [f.as_dict() for f in sorted(self.files, key=lambda f: f.path)],
            "resources": list(self.resources), "notebooks": list(self.notebooks),
            "inputs": self.inputs,
        }


def collect(folder: Path, *, commit: str | None = None, input_hash: str | None = None) -> Bundle:
    """Check a built package directory and hash what a version of it holds. Raises
    ConfigError (file, JSON pointer, what was expected) for anything unpublishable."""
    display = str(folder / DESCRIPTOR)
    if not (folder / DESCRIPTOR).is_file():
        what = "no datapackage.json here" if folder.is_dir() else "not a directory"
        if any(folder.glob("datapackage.y*ml")):  # a source folder: its output is JSON
            what += " (a datapackage.yaml is a package's source, not what is published)"
        raise ConfigError(Problem(str(folder), what, expected="a built package directory "
                                  "holding datapackage.json (what dvbuild test writes to OUT/<name>/)"))
    descriptor = read_descriptor(folder / DESCRIPTOR, display)
    name, semver = _name_and_semver(descriptor, display)
    report = _read_report(folder)
    _refuse_leaks(folder, report)
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
                input_hash: str | None) -> list[Bundle | ConfigError]:
    """Every directory checked before anything is written: its Bundle, or what is wrong
    with it (that package alone fails). Raises when no directory is publishable, or when
    the arguments themselves are wrong (none given, a package given twice)."""
    if not dirs:
        raise UsageError("no directory to publish", hint="dvbuild publish OUT/<name> --store URL")
    checked: list[Bundle | ConfigError] = []
    for d in dirs:
        try:
            checked.append(collect(Path(d), commit=commit, input_hash=input_hash))
        except ConfigError as e:
            checked.append(e)
    bundles = [c for c in checked if isinstance(c, Bundle)]
    if not bundles:
        raise ConfigError([p for c in checked if isinstance(c, ConfigError) for p in c.problems],
                          hint="nothing was published")
    names = [b.name for b in bundles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError([Problem(str(b.folder / "datapackage.json"),
                                   f"package {b.name!r} given twice", pointer="/name")
                           for b in bundles if b.name in dupes])
    return checked


def refuse_test_output(dirs: Sequence[Path], checked: Sequence[Bundle | ConfigError]) -> None:
    """Production data comes from production runs: a folder a test run wrote (report.json
    `mode: test`) is refused, before anything is written, naming every such folder."""
    tests = [str(d) for d, c in zip(dirs, checked, strict=True)
             if isinstance(c, Bundle) and c.mode == "test"]
    if tests:
        raise UsageError(f"{', '.join(tests)}: written by a test run (report.json mode: test); "
                         "test output is not published to a store",
                         hint="publish a production run's output (dvbuild run), or pass "
                              "--allow-test-output to publish test output on purpose")


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


def _refuse_leaks(folder: Path, report: Report | None) -> None:
    """A run whose final sweep found a secret value it could not mask (report.json
    `leaks`, written by notebooks/leaks.py) failed, and its folder is never published."""
    leaks = report.get("leaks") if report else None
    if leaks:
        names = ", ".join(str(leak.get("path")) for leak in leaks if isinstance(leak, dict))
        raise ConfigError(Problem(str(folder / REPORT), "the run that wrote this folder "
                                  f"would have leaked a secret value through {names or 'a file'}",
                                  pointer="/leaks", expected="a run whose outputs hold no "
                                  "secret value (see docs/secrets.md)"))


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
