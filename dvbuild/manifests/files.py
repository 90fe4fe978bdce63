"""The doing part: validate each package's manifest, write OUT/<job name>.yaml, and
remove the manifests of packages that are gone or no longer scheduled."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvbuild.errors import ConfigError, Problem, UsageError
from dvbuild.manifests.images import IMAGE_RE, image_source
from dvbuild.manifests.managed import managed_manifests
from dvbuild.manifests.names import KINDS, job_name
from dvbuild.manifests.render import render
from dvbuild.package import Package
from dvbuild.settings import Settings


@dataclass
class RenderResult:
    written: list[Path] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)  # for --json
    skipped: list[str] = field(default_factory=list)  # packages without a schedule
    pruned: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def render_packages(settings: Settings, packages: list[Package], out: Path, *,
                    image: str | None = None, kind: str = "naisjob",
                    prune: Iterable[str] = ()) -> list[Path]:
    """Write OUT/<job name>.yaml for each scheduled package; remove the manifests of
    packages in `prune` (and of given packages that lost their schedule). Raises
    ConfigError (exit 2) after writing the others if any manifest is invalid."""
    result = render_all(settings, packages, out, image=image, kind=kind, prune=prune)
    if result.problems:
        raise ConfigError(result.problems)
    return result.written


def render_all(settings: Settings, packages: list[Package], out: Path, *,
               image: str | None = None, kind: str = "naisjob",
               prune: Iterable[str] = ()) -> RenderResult:
    if kind not in KINDS:
        raise UsageError(f"unknown manifest kind {kind!r}", hint="use naisjob or cronjob")
    if image is not None and not IMAGE_RE.match(image.replace("{name}", "x").replace("{hash}", "0")):
        raise UsageError(f"--image {image!r} is not an image reference",
                         hint="e.g. ghcr.io/team/{name}:1.2.3")
    result = RenderResult()
    existing = managed_manifests(out)
    images = image_source(settings, image)
    _check_unique(packages)
    for package in packages:
        keep = _render_one(settings, package, out, kind, images, result)
        for path in existing.get(package.name, []):
            if path != keep:
                _remove(path, result)
    done = {p.name for p in packages}
    for name in prune:
        if name not in done:
            for path in existing.get(name, []):
                _remove(path, result)
    return result


def _render_one(settings: Settings, package: Package, out: Path, kind: str,
                images: Callable[[Package], str], result: RenderResult) -> Path | None:
    """The path written (or kept, when the package's input is bad), None if unscheduled."""
    path = out / f"{job_name(package.name)}.yaml"
    if not package.schedule:
        result.skipped.append(package.name)
        return None
    values, text, problems = render(settings, package, images(package), kind)
    if problems:
        result.problems.extend(problems)
        return path  # an invalid change keeps the last good manifest
    if not _same(path, text):  # an unchanged manifest keeps its file (and mtime)
        out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    result.written.append(path)
    result.manifests.append({"package": package.name, "path": str(path), "kind": kind,
                             "name": values.name, "schedule": package.schedule,
                             "timezone": package.timezone, "image": values.image})
    return path


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _check_unique(packages: list[Package]) -> None:
    seen: dict[str, Package] = {}
    for p in packages:
        other = seen.setdefault(job_name(p.name), p)
        if other is not p:
            raise ConfigError(Problem(p.descriptor_file, f"job name {job_name(p.name)!r} is also "
                                      f"{other.name}'s", pointer="/name",
                                      expected="package names that differ after lowercasing"))


def _remove(path: Path, result: RenderResult) -> None:
    path.unlink(missing_ok=True)
    result.pruned.append(path)
