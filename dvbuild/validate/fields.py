"""The checks of dvbuild's own datapackage.json fields (and typo'd keys).

Each check yields (pointer, message, expected); `validate.py` turns them into
Problems with lines. Frictionless's part of the descriptor is `spec.py`'s.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from dvbuild import secrets
from dvbuild.detect import globs
from dvbuild.package import (
    MAX_TIMEOUT,
    NAME_RULE,
    PATH_RULE,
    VERSION_RULE,
    link_problem,
    name_problem,
    path_problem,
    version_problem,
)
from dvbuild.validate import positions as jsonpos
from dvbuild.validate import spec
from dvbuild.validate.schedule import cron_problem, timezone_problem

Issue = spec.Issue
DVBUILD_KEYS = ("schedule", "timezone", "notebooks", "parameters", "test_parameters", "timeout",
                "test_timeout", "depends_on", "secrets", "job", "reads", "docker")
SPEC_KEYS = ("$schema", "profile", "id", "name", "title", "description", "homepage", "version",
             "created", "keywords", "image", "licenses", "sources", "contributors", "resources",
             "views")
RESOURCE_KEYS = ("name", "path", "data", "type", "title", "description", "format", "mediatype",
                 "encoding", "bytes", "hash", "rows", "fields", "schema", "dialect", "sources",
                 "licenses", "profile", "$schema", "scheme", "homepage", "compression",
                 "extrapaths", "innerpath")
JOB_KEYS = ("team", "namespace", "resources", "ttl", "backoff_limit", "concurrency_policy", "env",
            "env_from", "outbound", "command", "image_pull_policy", "image_pull_secrets", "webhook",
            "failed_jobs_history_limit", "successful_jobs_history_limit")
CONCURRENCY = ("Allow", "Forbid", "Replace")
READ_KEYS = ("name", "external")
READ_FORMS = 'a package name, or {"name": "<name>", "external": true}'


def issues(d: Mapping[str, Any], folder: Path, root: Path | None,
                    notebook_folder: Path) -> Iterator[Issue]:
    yield from _name(d.get("name"))
    if d.get("schedule") is not None:
        yield from _split("/schedule", cron_problem(d["schedule"]))
    if "timezone" in d:
        yield from _split("/timezone", timezone_problem(d["timezone"]))
    if isinstance(d.get("version"), str):  # another type is the spec check's to report
        yield from _issue("/version", version_problem(d["version"]), VERSION_RULE)
    for key in ("timeout", "test_timeout"):
        if key in d:
            yield from _positive(d[key], f"/{key}", key)
    for key in ("parameters", "test_parameters"):
        if key in d:
            yield from _parameters(d[key], f"/{key}")
    yield from _notebooks(d, notebook_folder)
    yield from _resource_paths(d.get("resources"), folder)
    yield from _depends_on(d.get("depends_on"), root)
    yield from _secrets(d.get("secrets"))
    yield from _job(d.get("job"))
    yield from _docker(d.get("docker"))
    yield from _reads(d.get("reads"))
    yield from _views(d.get("views"))


def _split(pointer: str, problem: str | None) -> Iterator[Issue]:
    """schedule.py says "found, expected wanted" in one string; split it."""
    if problem:
        found, _, expected = problem.partition(", expected ")
        yield pointer, found, expected


def _issue(pointer: str, problem: str | None, rule: str) -> Iterator[Issue]:
    if problem:
        yield pointer, problem, rule


def _name(name: Any) -> Iterator[Issue]:
    yield from _issue("/name", name_problem(name), NAME_RULE)


def custom_keys(d: Mapping[str, Any]) -> Iterator[Issue]:
    """Warnings, never errors: top-level and resource keys that look like typos of known
    ones. The spec allows custom properties (`related`, CKAN's `num_resources`), so an
    unknown key there is not a rejection; `job` is dvbuild's own, and stays an error."""
    yield from unknown_keys(d, (*DVBUILD_KEYS, *SPEC_KEYS), "")
    resources = d.get("resources")
    for i, r in enumerate(resources if isinstance(resources, list) else []):
        if isinstance(r, dict):
            yield from unknown_keys(r, RESOURCE_KEYS, f"/resources/{i}")


def unknown_keys(d: Mapping[str, Any], known: tuple[str, ...], at: str) -> Iterator[Issue]:
    """Keys that look like typos of known keys. Other extra keys are allowed (the Data
    Package spec allows custom properties)."""
    for key in d:
        if key in known:
            continue
        near = difflib.get_close_matches(str(key).lower(), known, n=1, cutoff=0.75)
        # `created_by`, `job_notes`: a custom key built on a known one, not a typo
        if near and not re.match(rf"^{re.escape(near[0])}[_\-.]\w", str(key)):
            yield f"{at}/{jsonpos.escape(str(key))}", \
                f"unknown key {key!r}; did you mean {near[0]!r}?", f"{near[0]!r}"


def _positive(value: Any, at: str, key: str) -> Iterator[Issue]:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not value > 0:  # NaN compares false; no float() of a huge int
        yield at, f"{key} is {spec._short(value)}", "a positive number of seconds"
    elif value > MAX_TIMEOUT:
        yield at, f"{key} is {spec._short(value)}, more than a year ({MAX_TIMEOUT} s)", \
            "a positive number of seconds"


def _parameters(value: Any, at: str) -> Iterator[Issue]:
    if value is None:
        return
    if not isinstance(value, dict):
        yield at, f"{at[1:]} is {spec._kind(value)}", "an object of name: value"
        return
    for key in value:
        if not key.isidentifier() or keyword.iskeyword(key):
            yield f"{at}/{jsonpos.escape(key)}", f"parameter name {key!r} is not a Python name", \
                "a valid Python variable name (papermill injects it as one)"


def _notebooks(d: Mapping[str, Any], folder: Path) -> Iterator[Issue]:
    listed = d.get("notebooks")
    if listed is None:
        if not any(p.is_file() for p in folder.glob("*.ipynb")):
            yield "/notebooks", f"no notebooks: no *.ipynb in {folder.name}/ and no notebooks " \
                "listed", "at least one notebook"
        return
    if not isinstance(listed, list) or not listed:
        yield "/notebooks", f"notebooks is {spec._short(listed)}", \
            "a non-empty list of notebook paths"
        return
    for i, nb in enumerate(listed):
        at = f"/notebooks/{i}"
        if not isinstance(nb, str):
            yield at, f"notebook is {spec._short(nb)}", "a path to an .ipynb file"
            continue
        bad = _path_problem(nb, folder)
        if bad:
            yield at, f"notebook path {nb!r} {bad}", PATH_RULE
        elif not nb.endswith(".ipynb"):
            yield at, f"notebook {nb!r} is not an .ipynb file", "a path ending in .ipynb"
        elif not (folder / nb).is_file():
            yield at, f"notebook {nb!r} does not exist", "an existing notebook file"


def _path_problem(path: str, folder: Path) -> str | None:
    """Why a path does not stay inside the folder, or None (the rules are package.py's)."""
    return path_problem(path) or link_problem(folder, path)


def _resource_paths(resources: Any, folder: Path) -> Iterator[Issue]:
    if not isinstance(resources, list):
        return
    for i, r in enumerate(resources):
        if not isinstance(r, dict):
            continue
        paths = r.get("path")
        items = [(f"/resources/{i}/path", paths)] if isinstance(paths, str) else (
            [(f"/resources/{i}/path/{j}", p) for j, p in enumerate(paths)
             if isinstance(p, str)] if isinstance(paths, list) else [])
        for at, path in items:
            bad = _path_problem(path, folder)
            if bad:
                yield at, f"resource path {path!r} {bad}", PATH_RULE


def _depends_on(value: Any, root: Path | None) -> Iterator[Issue]:
    if value is None:
        return
    if not isinstance(value, list):
        yield "/depends_on", f"depends_on is {spec._kind(value)}", \
            "a list of repository-relative paths or globs"
        return
    for i, dep in enumerate(value):
        at = f"/depends_on/{i}"
        if not isinstance(dep, str) or not dep.strip():
            yield at, f"depends_on entry is {spec._short(dep)}", "a repository-relative path"
            continue
        pure = PurePosixPath(dep)
        if pure.is_absolute() or ".." in pure.parts:
            yield at, f"depends_on path {spec._short(dep)} is not inside the repository", \
                "a path relative to the repository root, without '..'"
        elif bad := globs.problems([dep]):  # the rule detect and the image context apply
            yield at, f"depends_on entry {spec._short(dep)}: {bad[0][1]}", \
                "a repository-relative path or glob"
        elif root is not None and not any(c in dep for c in "*?[") and not (root / dep).exists():
            yield at, f"depends_on path {dep!r} does not exist", \
                "an existing file or folder, relative to the repository root"


def _secrets(value: Any) -> Iterator[Issue]:
    if value is None:
        return
    if not isinstance(value, dict):
        yield "/secrets", f"secrets is {spec._kind(value)}", "an object of ENV_NAME: reference"
        return
    for name, ref in value.items():
        at = f"/secrets/{jsonpos.escape(name)}"
        if not secrets.is_env_name(name):
            yield at, f"secret name {name!r} is not an environment variable name", \
                "letters, digits and '_', not starting with a digit"
        if not isinstance(ref, str):
            yield at, f"secret reference is {spec._kind(ref)}", secrets.FORMS
            continue
        yield from _issue(at, secrets.problem(ref), secrets.FORMS)


def _job(job: Any) -> Iterator[Issue]:
    if job is None:
        return
    if not isinstance(job, dict):
        yield "/job", f"job is {spec._kind(job)}", "an object of Naisjob settings"
        return
    yield from unknown_keys(job, JOB_KEYS, "/job")
    for key in ("team", "namespace"):
        if key in job and name_problem(job[key]):
            yield f"/job/{key}", f"{key} is {spec._short(job[key])}", "a Kubernetes name"
    if "concurrency_policy" in job and job["concurrency_policy"] not in CONCURRENCY:
        yield "/job/concurrency_policy", \
            f"concurrency_policy is {spec._short(job['concurrency_policy'])}", \
            "one of " + ", ".join(CONCURRENCY)
    limit = job.get("backoff_limit")
    if "backoff_limit" in job and (not isinstance(limit, int) or isinstance(limit, bool)
                                   or limit < 0):
        yield "/job/backoff_limit", f"backoff_limit is {spec._short(limit)}", \
            "a whole number >= 0"
    if "resources" in job and not isinstance(job["resources"], dict):
        yield "/job/resources", f"resources is {spec._kind(job['resources'])}", \
            "an object with cpu and memory"


def _docker(value: Any) -> Iterator[Issue]:
    """The image settings: the rules are the Dockerfile's (image/dockerfile.py)."""
    from dvbuild.image.dockerfile import DOCKER_KEYS, docker_problems

    if isinstance(value, dict):
        yield from unknown_keys(value, DOCKER_KEYS, "/docker")
    yield from docker_problems(value)


def _reads(value: Any) -> Iterator[Issue]:
    """The shape of `reads`; validate/reads.py checks the names against the monorepo."""
    if value is None:
        return
    if not isinstance(value, list):
        yield "/reads", f"reads is {spec._kind(value)}", "a list of package names"
        return
    first: dict[str, int] = {}
    for i, entry in enumerate(value):
        yield from _read_entry(entry, f"/reads/{i}")
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name in first:
            yield f"/reads/{i}", f"{name!r} is listed twice (also /reads/{first[name]})", \
                "each package once"
        elif isinstance(name, str):
            first[name] = i


def _read_entry(entry: Any, at: str) -> Iterator[Issue]:
    if isinstance(entry, str):
        yield from _issue(at, name_problem(entry), NAME_RULE)
        return
    if not isinstance(entry, dict):
        yield at, f"reads entry is {spec._short(entry)}", READ_FORMS
        return
    for key in entry:
        if key not in READ_KEYS:
            near = difflib.get_close_matches(str(key).lower(), READ_KEYS, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            yield f"{at}/{jsonpos.escape(str(key))}", f"unknown key {key!r} in a reads entry" \
                f"{hint}", "only 'name' and 'external'"
    yield from _issue(f"{at}/name", name_problem(entry.get("name")), NAME_RULE)
    if "external" in entry and not isinstance(entry["external"], bool):
        yield f"{at}/external", f"external is {spec._short(entry['external'])}", "true or false"


def _views(views: Any) -> Iterator[Issue]:
    if views is None:
        return
    if not isinstance(views, list):
        yield "/views", f"views is {spec._kind(views)}", "a list of views"
        return
    for i, v in enumerate(views):
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            yield f"/views/{i}", f"view is {spec._short(v)}", 'an object with a "name"'
