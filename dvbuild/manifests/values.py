"""Settings + package → the values a manifest template shows (pure: nothing is written).

A job setting is the package's `job.<key>`, else `naisjob.<key>` in dvbuild.yaml,
else a default; each value remembers where it came from, so a manifest that fails
its schema is reported against the file and field to fix. Problems are collected,
never raised, so one run reports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dvbuild.errors import Problem
from dvbuild.manifests.access import hosts
from dvbuild.manifests.images import IMAGE_RE
from dvbuild.manifests.names import PACKAGE_KEY, job_name
from dvbuild.manifests.runtime import environment
from dvbuild.manifests.spec import job_settings, resources
from dvbuild.package import DEFAULT_TIMEZONE, Package
from dvbuild.settings import CONFIG_FILE, Settings

MAX_ANNOTATION = 2000


@dataclass
class Values:
    """What a template needs, plus where each setting came from (for error messages)."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, key: str, message: str, expected: str = "") -> None:
        file, pointer = self.origins[key]
        self.problems.append(Problem(file, message, pointer=pointer, expected=expected))


class Picker:
    """A job setting: the package's `job.<key>`, else dvbuild.yaml `naisjob.<key>`, else a default."""

    def __init__(self, settings: Settings, package: Package, values: Values) -> None:
        self.job = package.job
        self.naisjob = dict(settings.config.naisjob)
        self.file = package.descriptor_file
        self.values = values

    def __call__(self, key: str, default: Any = None, *, name: str | None = None) -> Any:
        name = name or key
        if self.job.get(key) is not None:
            self.values.origins[name] = (self.file, f"/job/{key}")
            return self.job[key]
        self.values.origins[name] = (CONFIG_FILE, f"/naisjob/{key}")
        if self.naisjob.get(key) is not None:
            return self.naisjob[key]
        self.values.origins[name] = (self.file, f"/job/{key}")
        return default


def job_values(settings: Settings, package: Package, image: str, kind: str = "naisjob") -> Values:
    """Everything the templates show for one package; problems are collected, not raised."""
    values = Values(problems=shape_problems(package))
    file = package.descriptor_file
    if values.problems:  # the typed accessors below would fail on these
        values.data["descriptor_file"] = file
        return values
    pick = Picker(settings, package, values)
    v = values.data
    values.origins.update(schedule=(file, "/schedule"), timezone=(file, "/timezone"),
                          active_deadline=(file, "/timeout"), image=(CONFIG_FILE, "/registry"))
    v.update(name=job_name(package.name), descriptor_file=file, image=image,
             schedule=package.schedule, timezone=package.timezone)
    _schedule(package, values)
    if not IMAGE_RE.match(image):
        values.problem("image", f"image reference {image!r} is not valid",
                       expected="registry/name:tag without spaces")
    _team(pick, values, required=kind == "naisjob")
    job_settings(pick, package, values)
    v["resources"] = resources(pick("resources", {}), values)
    environment(settings, package, pick, values)
    v["hosts"] = hosts(settings, pick, values)
    v["annotations"] = _annotations(package, values)
    return values


_SHAPES: dict[str, tuple[tuple[type, ...], str]] = {
    "job": ((dict,), "a mapping"), "secrets": ((dict,), "a mapping NAME: reference"),
    "timeout": ((int, float), "a number of seconds"), "notebooks": ((list,), "a list of paths"),
    "timezone": ((str,), "an IANA zone name"), "title": ((str,), "a string"),
    "description": ((str,), "a string"), "version": ((str,), "a string"),
}


def shape_problems(package: Package) -> list[Problem]:
    """Fields of the wrong JSON type (`dvbuild validate` says more; this keeps render safe)."""
    problems = []
    for key, (types, expected) in _SHAPES.items():
        value = package.descriptor.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            problems.append(Problem(package.descriptor_file, f"{key} is {type(value).__name__}",
                                    pointer=f"/{key}", expected=expected))
    return problems


def _schedule(package: Package, values: Values) -> None:
    cron, tz = package.get("schedule"), package.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(cron, str) or not isinstance(tz, str):
        from dvbuild.validate.schedule import cron_problem, timezone_problem

        for key, problem in (("schedule", cron_problem(cron)), ("timezone", timezone_problem(tz))):
            if problem:
                values.problem(key, problem)
        return
    cron_bad, tz_bad, words = _schedule_facts(cron, tz)
    if cron_bad:
        values.problem("schedule", cron_bad)
    if tz_bad:
        values.problem("timezone", tz_bad)
    values.data["words"] = words


@lru_cache(maxsize=4096)
def _schedule_facts(cron: str, tz: str) -> tuple[str | None, str | None, str]:
    """(cron problem, timezone problem, in words); repos repeat a few schedules many times."""
    from dvbuild.validate.schedule import cron_problem, describe, timezone_problem

    cron_bad, tz_bad = cron_problem(cron), timezone_problem(tz)
    return cron_bad, tz_bad, "" if cron_bad or tz_bad else describe(cron, tz)


def _team(pick: Picker, values: Values, *, required: bool) -> None:
    team = pick("team")
    namespace = pick("namespace") or team
    if required and not team:
        values.problem("team", "no team for the Naisjob",
                       expected=f"job.team here or naisjob.team in {CONFIG_FILE}")
    values.data.update(team=team, namespace=namespace)


def _annotations(package: Package, values: Values) -> dict[str, str]:
    notes = {PACKAGE_KEY: package.name, "dvbuild/path": package.path,
             "dvbuild/title": package.title[:MAX_ANNOTATION],
             "dvbuild/description": package.description[:MAX_ANNOTATION]}
    if values.data.get("words"):
        notes["dvbuild/schedule"] = values.data["words"]
    if package.secrets:
        notes["dvbuild/secrets"] = ", ".join(sorted(package.secrets))
    return notes
