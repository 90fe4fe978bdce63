"""Image names: the package's repository in the registry and its tags."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dvbuild.detect.inputs import head_input_hash
from dvbuild.package import Package
from dvbuild.settings import Settings

# Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?", re.ASCII)
MAX_REFERENCE = 512
REFERENCE_RULE = ("an image reference such as 'python:3.11-slim' or "
                  "'registry.example/team/base:1.0' (one word: lowercase name, optional tag "
                  "and @digest)")


def reference_problem(value: object) -> str | None:
    """What is wrong with an image reference (a base image), or None: it goes into a
    Dockerfile's FROM line, so one well-formed reference and nothing more."""
    if not isinstance(value, str) or not value:
        return f"is {value!r}" if len(repr(value)) <= 60 else "is not an image reference"
    if len(value) > MAX_REFERENCE or not IMAGE_REFERENCE.fullmatch(value):
        shown = repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
        return f"{shown} is not an image reference"
    return None


@dataclass(frozen=True)
class Target:
    """What an image of a package is called, decided before anything is built."""

    package: Package
    repository: str  # registry/name
    commit: str
    input_hash: str
    dirty: tuple[str, ...] = ()  # input files that differ from the commit

    @property
    def tags(self) -> list[str]:
        """The content-hash tag first (what skips and jobs use), then the commit's."""
        return [f"{self.repository}:{t}" for t in (self.input_hash, self.commit_tag)]

    @property
    def commit_tag(self) -> str:
        return self.commit + ("-dirty" if self.dirty else "")



def repository(settings: Settings, package: Package) -> str:
    """`<registry>/<name>`, or just the name when dvbuild.yaml sets no registry."""
    registry = (settings.config.registry or "").rstrip("/")
    return f"{registry}/{package.name}" if registry else package.name


def image_ref(settings: Settings, package: Package) -> str:
    """The image a scheduled job runs: registry/name:<input hash at HEAD>."""
    return f"{repository(settings, package)}:{head_input_hash(settings, package)}"


def extra_ref(settings: Settings, package: Package, tag: str) -> str:
    """--tag TAG: a plain tag goes on the package's repository, a full reference as is."""
    return tag if ("/" in tag or ":" in tag) else f"{repository(settings, package)}:{tag}"


