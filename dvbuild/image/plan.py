"""Planning an image: names, tags, labels and the build context, before any engine is involved."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dvbuild import __version__, console, gitio
from dvbuild.detect.inputs import input_hash, worktree_input_hash
from dvbuild.errors import DvbuildError
from dvbuild.image.context import ContextFile, context_files, host_ca_bundle
from dvbuild.image.dockerfile import choose_dockerfile
from dvbuild.image.naming import Target, repository
from dvbuild.package import Package
from dvbuild.settings import Settings
from dvbuild.util import without_credentials

DEFAULT_PYTHON = "3.11"  # python:3.11-slim, dvbuild's default base image


@dataclass(frozen=True)
class Plan:
    target: Target
    dockerfile: str
    dockerfile_source: str  # "template" or the package's own Dockerfile (repo-relative)
    files: tuple[ContextFile, ...]
    labels: Mapping[str, str]
    buildargs: Mapping[str, str] = field(default_factory=dict)  # the host's package index

    @property
    def own(self) -> bool:
        """A package's own Dockerfile gets labels and build args through the API."""
        return self.dockerfile_source != "template"





def head_commit(settings: Settings) -> str:
    """The commit being built: on a pull request the PR's head, not GitHub's merge commit."""
    gh = settings.github
    if gh.event_name and gh.event_name.startswith("pull_request") and gh.event_path:
        try:
            event = json.loads(Path(gh.event_path).read_text(encoding="utf-8"))
            sha = event["pull_request"]["head"]["sha"]
            if isinstance(sha, str) and sha:
                return sha
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return gitio.rev_parse("HEAD", settings.git_root)


def dirty_files(settings: Settings, package: Package) -> list[str]:
    """Files of the package's inputs that differ from HEAD (not git-ignored)."""
    from dvbuild.detect.globs import problems
    from dvbuild.util import split_z

    bad = {i for i, _ in problems(package.depends_on)}  # `dvbuild validate` reports them
    specs = [settings.prefix + (package.path if package.path != "." else "")]
    specs += [settings.prefix + d for i, d in enumerate(package.depends_on) if i not in bad]
    out = gitio.git("status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--",
                    *[f":(glob){s}" if "*" in s else s or "." for s in specs],
                    cwd=settings.git_root)
    return [entry[3:] for entry in split_z(out)]


def source_url(settings: Settings) -> str:
    gh = settings.github
    if gh.repository:
        return f"{gh.server_url.rstrip('/')}/{gh.repository}"
    try:
        url = gitio.git("config", "--get", "remote.origin.url", cwd=settings.git_root).decode()
    except DvbuildError:
        return ""
    return without_credentials(url.strip())  # never a token from the URL


def labels(settings: Settings, package: Package, commit: str, digest: str) -> dict[str, str]:
    oci = "org.opencontainers.image"
    found = {
        f"{oci}.source": source_url(settings),
        f"{oci}.revision": commit,
        f"{oci}.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        f"{oci}.version": package.version,
        f"{oci}.title": package.title,
        f"{oci}.description": package.description,
        "io.dvbuild.package": package.name,
        "io.dvbuild.path": package.path,
        "io.dvbuild.input-hash": digest,
        "io.dvbuild.version": __version__,
    }
    return {k: v for k, v in found.items() if v}


def target(settings: Settings, package: Package, commit: str | None = None) -> Target:
    """Names for the image. With uncommitted inputs the hash is the working tree's
    (so the tag still names the content) and the commit tag says `-dirty`."""
    dirty = tuple(dirty_files(settings, package))
    digest = worktree_input_hash(settings, package) if dirty else input_hash(settings, package)
    return Target(
        package=package, repository=repository(settings, package),
        commit=commit or head_commit(settings), input_hash=digest, dirty=dirty,
    )


def plan(settings: Settings, t: Target, wheel: Path) -> Plan:
    from dvbuild.image import installer

    package = t.package
    ca = host_ca_bundle(settings.environ)
    found = labels(settings, package, t.commit, t.input_hash)
    index = installer.index_url(settings.environ)
    dockerfile, source = choose_dockerfile(settings, t, wheel=wheel.name, ca=ca is not None,
                                           labels=found, uv_image=installer.uv_image(),
                                           index=index is not None)
    files = context_files(settings, package, dockerfile, wheel, ca, lock=package_lock(settings, package))
    return Plan(target=t, dockerfile=dockerfile, dockerfile_source=source, files=tuple(files),
                labels=found, buildargs={installer.INDEX_ARG: index} if index else {})


def package_lock(settings: Settings, package: Package) -> str:
    """The lock `dvbuild test` runs the package with (notebooks/envs.py), for the image's
    Python: the same pins, installed by the same tool."""
    from dvbuild.notebooks import envs

    lock = envs.lock_for(package, python=image_python(settings, package), environ=settings.environ,
                         log=console.log)
    return str(lock.text)


def image_python(settings: Settings, package: Package) -> str:
    """The Python of the base image when its name says it (`python:3.12-slim`), else 3.11."""
    from dvbuild.image.dockerfile import base_image

    name, _, tag = base_image(settings, package).rpartition(":")
    match = re.match(r"(3\.\d+)", tag)
    return match.group(1) if name.rsplit("/", 1)[-1] == "python" and match else DEFAULT_PYTHON
