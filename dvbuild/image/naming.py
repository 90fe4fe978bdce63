"""Image names: the package's repository in the registry and its tags."""

from __future__ import annotations

from dataclasses import dataclass

from dvbuild.detect.inputs import input_hash
from dvbuild.package import Package
from dvbuild.settings import Settings


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
    return f"{repository(settings, package)}:{input_hash(settings, package)}"


def extra_ref(settings: Settings, package: Package, tag: str) -> str:
    """--tag TAG: a plain tag goes on the package's repository, a full reference as is."""
    return tag if ("/" in tag or ":" in tag) else f"{repository(settings, package)}:{tag}"


