"""Settings + package → one package's job values, the record the manifest builders take
(pure: nothing is written). The helpers each decide a part: `spec` (retries, deadlines,
resources), `runtime` (env, secret references), `access` (outbound hosts); `pick` finds
each setting and notes where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dvbuild.errors import Problem
from dvbuild.manifests.access import hosts
from dvbuild.manifests.images import IMAGE_RE
from dvbuild.manifests.names import PACKAGE_KEY, job_name
from dvbuild.manifests.pick import Notes, Picker
from dvbuild.manifests.runtime import Runtime, environment
from dvbuild.manifests.spec import JobSpec, job_spec, resources
from dvbuild.package import DEFAULT_TIMEZONE, Package
from dvbuild.settings import CONFIG_FILE, Settings

MAX_ANNOTATION = 2000


@dataclass(frozen=True)
class Values:
    """One package's job as its manifest shows it, and where each setting came from (for
    error messages). With `problems`, the fields may be incomplete: nothing is rendered."""

    descriptor_file: str
    name: str = ""
    image: str = ""
    schedule: str = ""
    timezone: str = ""
    team: Any = None
    namespace: Any = None
    annotations: dict[str, str] = field(default_factory=dict)
    job: JobSpec = field(default_factory=JobSpec)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    runtime: Runtime = field(default_factory=Runtime)
    hosts: list[dict[str, Any]] = field(default_factory=list)
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def job_values(settings: Settings, package: Package, image: str, kind: str = "naisjob") -> Values:
    """Everything a manifest shows for one package; problems are collected, not raised."""
    file = package.descriptor_file
    shapes = shape_problems(package)
    if shapes:  # the typed accessors below would fail on these
        return Values(descriptor_file=file, problems=shapes)
    notes = Notes(origins={"schedule": (file, "/schedule"), "timezone": (file, "/timezone"),
                           "active_deadline": (file, "/timeout"), "image": (CONFIG_FILE, "/registry")})
    pick = Picker(settings, package, notes)
    words = _schedule(package, notes)
    if not IMAGE_RE.match(image):
        notes.problem("image", f"image reference {image!r} is not valid",
                      expected="registry/name:tag without spaces")
    team, namespace = _team(pick, notes, required=kind == "naisjob")
    name = job_name(package.name)
    job = job_spec(pick, package, notes)
    amounts = resources(pick("resources", {}), notes)
    runtime = environment(settings, package, pick, notes, name, image)
    return Values(
        descriptor_file=file, name=name, image=image, schedule=package.schedule or "",
        timezone=package.timezone, team=team, namespace=namespace,
        annotations=_annotations(package, words), job=job, resources=amounts, runtime=runtime,
        hosts=hosts(settings, pick, notes), origins=notes.origins, problems=notes.problems)


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


def _schedule(package: Package, notes: Notes) -> str:
    """The schedule in words ("" if it has a problem)."""
    cron, tz = package.get("schedule"), package.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(cron, str) or not isinstance(tz, str):
        from dvbuild.validate.schedule import cron_problem, timezone_problem

        for key, problem in (("schedule", cron_problem(cron)), ("timezone", timezone_problem(tz))):
            if problem:
                notes.problem(key, problem)
        return ""
    cron_bad, tz_bad, words = _schedule_facts(cron, tz)
    if cron_bad:
        notes.problem("schedule", cron_bad)
    if tz_bad:
        notes.problem("timezone", tz_bad)
    return words


@lru_cache(maxsize=4096)
def _schedule_facts(cron: str, tz: str) -> tuple[str | None, str | None, str]:
    """(cron problem, timezone problem, in words); repos repeat a few schedules many times."""
    from dvbuild.validate.schedule import cron_problem, describe, timezone_problem

    cron_bad, tz_bad = cron_problem(cron), timezone_problem(tz)
    return cron_bad, tz_bad, "" if cron_bad or tz_bad else describe(cron, tz)


def _team(pick: Picker, notes: Notes, *, required: bool) -> tuple[Any, Any]:
    """(team, namespace): the namespace defaults to the team's."""
    team = pick("team")
    namespace = pick("namespace") or team
    if required and not team:
        notes.problem("team", "no team for the Naisjob",
                      expected=f"job.team here or naisjob.team in {CONFIG_FILE}")
    return team, namespace


def _annotations(package: Package, words: str) -> dict[str, str]:
    notes = {PACKAGE_KEY: package.name, "dvbuild/path": package.path,
             "dvbuild/title": package.title[:MAX_ANNOTATION],
             "dvbuild/description": package.description[:MAX_ANNOTATION]}
    if words:
        notes["dvbuild/schedule"] = words
    if package.secrets:
        notes["dvbuild/secrets"] = ", ".join(sorted(package.secrets))
    return notes
