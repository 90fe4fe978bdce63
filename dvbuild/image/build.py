"""Building: skip an image whose content-hash tag exists, else build it through an
`Engine` (adapters/docker.py implements it), then push every tag.

    build_packages(settings, packages) -> one BuildResult per package (a failure fails one)
    build_one(...)  -> skip | build (+ push)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from dvbuild import console
from dvbuild.errors import DvbuildError, PackageFailed, ServiceError, UsageError
from dvbuild.image.context import (
    context_tar,
    dvbuild_wheel,
)
from dvbuild.image.naming import Target, extra_ref
from dvbuild.image.plan import Plan, plan, target
from dvbuild.package import Package
from dvbuild.settings import Settings

# Pushed with every image, pulled before every build: the package's own build cache
# in the registry, so a fresh CI runner reuses the layers the last build made.
CACHE_TAG = "buildcache"


class Engine(Protocol):
    """What building needs from a container engine (adapters/docker.py implements it)."""

    address: str

    def build(
        self, context: IO[bytes], *, tag: str, labels: Mapping[str, str],
        buildargs: Mapping[str, str], network_mode: str, log: Callable[[str], None],
        cache_from: list[str] | None = None,
    ) -> str: ...

    def pull(self, ref: str, auth: Mapping[str, str] | None) -> bool: ...

    def exists(self, ref: str) -> bool: ...

    def in_registry(self, ref: str, auth: Mapping[str, str] | None) -> bool: ...

    def tag(self, image: str, ref: str) -> None: ...

    def push(self, ref: str, auth: Mapping[str, str] | None, log: Callable[[str], None]) -> None: ...

    def digest(self, ref: str) -> str: ...

    def registry_digest(self, ref: str, auth: Mapping[str, str] | None) -> str: ...

    def run(
        self, image: str, command: Sequence[str], *, mounts: Mapping[str, str],
        env: Mapping[str, str], network: str, log: Callable[[str], None], user: str | None = None,
        read_only: Mapping[str, str] | None = None,
    ) -> int: ...


@dataclass
class BuildResult:
    package: str
    path: str
    status: str  # built | skipped | failed | planned
    image: str | None = None  # the content-hash reference (else the first tag)
    tags: list[str] = field(default_factory=list)
    image_id: str | None = None
    pushed: bool = False
    duration: float = 0.0
    message: str = ""
    error: str | None = None
    dockerfile: str | None = None
    context: list[str] | None = None
    digest: str | None = None  # pushed (or already in the registry): its manifest digest

    def as_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in self.__dict__.items() if k not in ("dockerfile", "context")}
        if self.dockerfile is not None:
            doc["dockerfile"] = self.dockerfile
            doc["context"] = self.context
        return doc




def registry_auth(environ: Mapping[str, str]) -> dict[str, str] | None:
    """DVBUILD_REGISTRY_USERNAME/PASSWORD; None lets the engine use the docker config."""
    user = environ.get("DVBUILD_REGISTRY_USERNAME")
    password = environ.get("DVBUILD_REGISTRY_PASSWORD")
    if not (user and password):
        return None
    console.mask(password)
    return {"username": user, "password": password}


def engine_for(settings: Settings) -> Engine:
    from dvbuild.adapters.docker import DockerEngine

    engine = DockerEngine(settings.environ)
    if not engine.ping():
        raise ServiceError(f"no Docker engine answers at {engine.address}",
                           hint="start Docker, or point DOCKER_HOST at a running engine")
    return engine


def engine_available(settings: Settings) -> bool:
    try:
        engine_for(settings)
    except DvbuildError:
        return False
    return True


class Wheels:
    """dvbuild's wheel, built on first use only (a no-change run never needs it).
    DVBUILD_WHEEL names a ready wheel instead (built once for many builds)."""

    def __init__(self, folder: Path, environ: Mapping[str, str]) -> None:
        self.folder = folder
        given = environ.get("DVBUILD_WHEEL")
        self._wheel: Path | None = Path(given) if given else None
        if self._wheel is not None and not (
            self._wheel.is_file() and self._wheel.name.startswith("dvbuild-")
            and self._wheel.suffix == ".whl"
        ):
            raise UsageError(f"DVBUILD_WHEEL={given}: not a dvbuild wheel file",
                             hint="unset it to build one from dvbuild's source")

    def __call__(self) -> Path:
        if self._wheel is None:
            self._wheel = dvbuild_wheel(self.folder)
        return self._wheel


def build_packages(
    settings: Settings, packages: Sequence[Package], *, push: bool = False,
    tag: str | None = None, dry_run: bool = False, commit: str | None = None,
    engine: Engine | None = None,
) -> list[BuildResult]:
    """Plan, then (unless dry_run) build each package; a failing package does not
    stop the others: its result says `failed`."""
    import tempfile

    _refuse_links(settings, packages)
    with tempfile.TemporaryDirectory(prefix="dvbuild-build-") as tmp:
        wheels = Wheels(Path(tmp), settings.environ)
        if dry_run:
            return [_dry(settings, p, wheels, commit) for p in packages]
        if engine is None:
            try:
                engine = engine_for(settings)
            except ServiceError as e:
                return [_failed(p, str(e)) for p in packages]
        return [_build_safely(settings, engine, p, wheels, push, tag, commit) for p in packages]


def _refuse_links(settings: Settings, packages: Sequence[Package]) -> None:
    """Bad input, refused before anything is built (exit 2): a context file that a
    symbolic link takes out of its package folder or the monorepo."""
    from dvbuild.errors import ConfigError
    from dvbuild.image.context import package_files, refuse_links

    problems = []
    for p in packages:
        try:
            refuse_links(settings, p, package_files(settings, p))
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(problems, hint="replace the link with the file it points to")


def _dry(settings: Settings, package: Package, wheels: Wheels, commit: str | None) -> BuildResult:
    p = plan(settings, target(settings, package, commit), wheels())
    return BuildResult(package.name, package.path, "planned", image=p.target.tags[0],
                       tags=p.target.tags, dockerfile=p.dockerfile,
                       context=[f.arcname for f in p.files],
                       message=f"Dockerfile from {p.dockerfile_source}")


def _failed(package: Package, message: str) -> BuildResult:
    message = message.removeprefix(f"{package.name}: ")  # the result names the package
    return BuildResult(package.name, package.path, "failed", error=console.redact(message))


def _build_safely(
    settings: Settings, engine: Engine, package: Package, wheels: Wheels, push: bool,
    tag: str | None, commit: str | None,
) -> BuildResult:
    started = time.monotonic()
    try:
        result = build_one(settings, engine, package, wheels=wheels, push=push, tag=tag,
                           commit=commit)
        if push and result.image:  # what a manifest pins: `repository@digest`
            result.digest = engine.registry_digest(result.image, registry_auth(settings.environ))
    except DvbuildError as e:
        result = _failed(package, str(e))
    result.duration = round(time.monotonic() - started, 3)
    return result


def build_one(
    settings: Settings, engine: Engine, package: Package, *, wheels: Callable[[], Path],
    push: bool = False, tag: str | None = None, commit: str | None = None,
) -> BuildResult:
    t = target(settings, package, commit)
    auth = registry_auth(settings.environ)
    tags = t.tags + ([extra_ref(settings, package, tag)] if tag else [])
    result = BuildResult(package.name, package.path, "built", image=tags[0], tags=tags)
    if push and t.dirty:
        raise PackageFailed(package.name, "will not push an image of uncommitted files: "
                            + ", ".join(t.dirty[:5]), hint="commit them, or build without --push")
    if _skip(settings, engine, t, auth, push, result):
        return result
    p = plan(settings, t, wheels())
    cache = f"{t.repository}:{CACHE_TAG}"
    with console.group(f"build {package.name}"):
        _uv_image(engine)
        cache_from = _cache_from(settings, engine, cache, auth)
        result.image_id = _engine_build(engine, p, tags[0], cache_from)
    for ref in [*tags[1:], cache]:
        engine.tag(result.image_id, ref)
    if push:
        _push_all(engine, [*tags, cache], auth, result)
    result.message = f"built {tags[0]}"
    return result


def _skip(
    settings: Settings, engine: Engine, t: Target, auth: Mapping[str, str] | None, push: bool,
    result: BuildResult,
) -> bool:
    """True when an image with this content-hash tag exists (registry first, then local)."""
    ref = t.tags[0]
    if settings.config.registry and _in_registry(engine, ref, auth, push):
        result.status, result.message = "skipped", f"{ref} is already in the registry"
        return True
    if engine.exists(ref):
        result.status, result.message = "skipped", f"{ref} already exists in the engine"
        if push:
            refs = [*result.tags[1:], f"{t.repository}:{CACHE_TAG}"]
            for other in refs:
                engine.tag(ref, other)
            _push_all(engine, [ref, *refs], auth, result)
        return True
    return False


def _in_registry(engine: Engine, ref: str, auth: Mapping[str, str] | None, push: bool) -> bool:
    """A registry that cannot be asked fails a push, but only slows a local build."""
    try:
        return engine.in_registry(ref, auth)
    except ServiceError as e:
        if push:
            raise
        console.log(f"warning: {e.message}; building without checking the registry")
        return False


def _cache_from(settings: Settings, engine: Engine, cache: str,
                auth: Mapping[str, str] | None) -> list[str]:
    """The package's last build from the registry, as layer cache, when the engine has
    none of its own (a fresh CI runner). With local layers the engine's own cache
    is better: given `cache_from`, the classic builder trusts only that image's chain."""
    if not settings.config.registry or engine.exists(cache):
        return []
    if engine.pull(cache, auth):
        console.log(f"using {cache} as build cache")
        return [cache]
    return []


def _uv_image(engine: Engine) -> str:
    """The one-file image the Dockerfile copies uv from, built from the host's binary
    when the engine does not have it yet."""
    import tempfile

    from dvbuild.image import installer

    ref = installer.uv_image()
    if not engine.exists(ref):
        with tempfile.TemporaryFile() as context:
            context_tar(installer.uv_image_files(), context)
            engine.build(context, tag=ref, labels={}, buildargs={}, network_mode="none",
                         log=console.log)
    return ref


def _engine_build(engine: Engine, p: Plan, ref: str, cache_from: list[str]) -> str:
    import tempfile

    from dvbuild.adapters.docker import BuildFailed

    with tempfile.TemporaryFile() as context:
        context_tar(p.files, context)
        try:
            # The template writes labels in its last step; through the API the classic
            # builder would add one step per label.
            return engine.build(
                context, tag=ref, labels=p.labels if p.own else {}, network_mode="host",
                log=console.log, cache_from=cache_from,
                buildargs={**p.buildargs, **(_buildargs(p.target) if p.own else {})},
            )
        except BuildFailed as e:
            step = "\n".join(e.step[-200:])
            raise PackageFailed(p.target.package.name, f"image build failed: {e.message}\n{step}",
                                hint=_build_hint(e.message + step)) from None


def _buildargs(t: Target) -> dict[str, str]:
    return {"DVBUILD_COMMIT": t.commit, "DVBUILD_INPUT_HASH": t.input_hash,
            "DVBUILD_IMAGE_REF": t.tags[0]}


def _build_hint(text: str) -> str:
    if "requirements" in text:
        return "check the package's requirements.txt: uv's error is above"
    if "apt-get" in text:
        return "check the package's apt.txt"
    return ""


def _push_all(engine: Engine, refs: Iterable[str], auth: Mapping[str, str] | None,
              result: BuildResult) -> None:
    for ref in refs:
        engine.push(ref, auth, console.log)
    result.pushed = True
