"""A job setting and where it came from: the package's `job.<key>`, else `naisjob.<key>`
in dvbuild.yaml, else a default. `Notes` keeps each setting's origin and the problems
found, so a manifest that fails its schema is reported against the file and field to fix;
problems are collected, never raised, so one run reports them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dvbuild.errors import Problem
from dvbuild.package import Package
from dvbuild.settings import CONFIG_FILE, Settings


@dataclass
class Notes:
    """Setting -> (file, JSON pointer) it came from, and the problems found so far."""

    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, key: str, message: str, expected: str = "") -> None:
        file, pointer = self.origins[key]
        self.problems.append(Problem(file, message, pointer=pointer, expected=expected))


class Picker:
    """A job setting: the package's `job.<key>`, else dvbuild.yaml `naisjob.<key>`, else a default."""

    def __init__(self, settings: Settings, package: Package, notes: Notes) -> None:
        self.job = package.job
        self.naisjob = dict(settings.config.naisjob)
        self.file = package.descriptor_file
        self.notes = notes

    def __call__(self, key: str, default: Any = None, *, name: str | None = None) -> Any:
        name = name or key
        if self.job.get(key) is not None:
            self.notes.origins[name] = (self.file, f"/job/{key}")
            return self.job[key]
        self.notes.origins[name] = (CONFIG_FILE, f"/naisjob/{key}")
        if self.naisjob.get(key) is not None:
            return self.naisjob[key]
        self.notes.origins[name] = (self.file, f"/job/{key}")
        return default
