"""One Docker image per data package: choose and render the Dockerfile, assemble the
build context, tag, and build through an `Engine` (adapters/docker.py).

The steps are split so a dry run is "plan and print": `plan()` is I/O on the
repository only (git, files), `build_packages()` adds the engine.

    target(settings, package) -> Target (tags: the input hash, the commit)
    plan(settings, target, wheel) -> Plan (Dockerfile text, context files, labels)
    context_tar(plan.files)  -> the tar the engine builds from (buildcontext.py)
    build_one(...)           -> skip if the content-hash tag exists, else build (+ push)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from dvbuild import __version__, console, gitio
from dvbuild.buildcontext import (
    ContextFile,
    context_files,
    context_tar,
    dvbuild_wheel,
    host_ca_bundle,
)
from dvbuild.errors import DvbuildError, PackageFailed, ServiceError, UsageError
from dvbuild.inputs import input_hash, worktree_input_hash
from dvbuild.package import Package
from dvbuild.settings import Settings

DEFAULT_EXTRAS = ("s3", "elastic")
# Pushed with every image, pulled before every build: the package's own build cache
# in the registry, so a fresh CI runner reuses the layers the last build made.
CACHE_TAG = "buildcache"
IMAGE_UID = 10001


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


@dataclass(frozen=True)
class Plan:
    target: Target
    dockerfile: str
    dockerfile_source: str  # "template" or the package's own Dockerfile (repo-relative)
    files: tuple[ContextFile, ...]
    labels: Mapping[str, str]

    @property
    def own(self) -> bool:
        """A package's own Dockerfile gets labels and build args through the API."""
        return self.dockerfile_source != "template"


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

    def as_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in self.__dict__.items() if k not in ("dockerfile", "context")}
        if self.dockerfile is not None:
            doc["dockerfile"] = self.dockerfile
            doc["context"] = self.context
        return doc


# ---- naming -----------------------------------------------------------------------


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


# ---- the Dockerfile ---------------------------------------------------------------


def docker_options(package: Package) -> dict[str, Any]:
    """The package's `docker` object (not `image`: the Data Package spec owns that name)."""
    value = package.get("docker", {})
    return dict(value) if isinstance(value, dict) else {}


def base_image(settings: Settings, package: Package) -> str:
    """The package's `docker.base_image`, else dvbuild.yaml `base_image`."""
    own = docker_options(package).get("base_image")
    return str(own) if own else settings.config.base_image


def extras(package: Package) -> list[str]:
    """dvbuild extras installed in the image: `docker.extras`, else s3 + elastic (publish)."""
    own = docker_options(package).get("extras")
    return [str(e) for e in own] if isinstance(own, list) else list(DEFAULT_EXTRAS)


def render_dockerfile(
    *, name: str, path: str, base_image: str, wheel: str, extras: Sequence[str],
    apt: bool, ca: bool, commit: str = "", input_hash: str = "",
    labels: Mapping[str, str] | None = None, uid: int = IMAGE_UID,
) -> str:
    """The template rendered (pure: strings in, text out)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
    )
    env.filters["dockerquote"] = dockerquote
    return env.get_template("Dockerfile.j2").render(
        name=name, path=path, base_image=base_image, wheel=wheel, extras=list(extras),
        apt=apt, ca=ca, uid=uid, dvbuild_version=__version__, commit=commit,
        input_hash=input_hash, labels=dict(labels or {}),
    )


def dockerquote(value: str) -> str:
    """A double-quoted Dockerfile word: no variable expansion, no line breaks."""
    text = " ".join(str(value).split())
    for char in ("\\", '"', "$"):
        text = text.replace(char, "\\" + char)
    return f'"{text}"'


def templates_dir() -> Path:
    import dvbuild

    for candidate in (Path(dvbuild.__file__).parent / "templates",
                      Path(dvbuild.__file__).parent.parent / "templates"):
        if (candidate / "Dockerfile.j2").is_file():
            return candidate
    raise DvbuildError("dvbuild's templates folder is missing", hint="reinstall dvbuild")


def choose_dockerfile(
    settings: Settings, t: Target, *, wheel: str, ca: bool, labels: Mapping[str, str],
) -> tuple[str, str]:
    """(text, source): the package's own Dockerfile wins, else the template."""
    package = t.package
    own = package.folder / "Dockerfile"
    if own.is_file():
        return own.read_text(encoding="utf-8"), _rel(package, "Dockerfile")
    text = render_dockerfile(
        name=package.name, path=package.path, base_image=base_image(settings, package),
        wheel=wheel, extras=extras(package), apt=(package.folder / "apt.txt").is_file(), ca=ca,
        commit=t.commit, input_hash=t.input_hash, labels=labels,
    )
    return text, "template"


def _rel(package: Package, name: str) -> str:
    return name if package.path == "." else f"{package.path}/{name}"


# ---- planning -----------------------------------------------------------------------


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
    from dvbuild.util import split_z

    specs = [settings.prefix + (package.path if package.path != "." else "")]
    specs += [settings.prefix + d for d in package.depends_on]
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
    return re.sub(r"//[^/@]*@", "//", url.strip())  # never a token from the URL


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
    package = t.package
    ca = host_ca_bundle(settings.environ)
    found = labels(settings, package, t.commit, t.input_hash)
    dockerfile, source = choose_dockerfile(settings, t, wheel=wheel.name, ca=ca is not None,
                                           labels=found)
    return Plan(
        target=t, dockerfile=dockerfile, dockerfile_source=source,
        files=tuple(context_files(settings, package, dockerfile, wheel, ca)), labels=found,
    )


# ---- building -----------------------------------------------------------------------


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
                log=console.log, buildargs=_buildargs(p.target) if p.own else {},
                cache_from=cache_from,
            )
        except BuildFailed as e:
            step = "\n".join(e.step[-200:])
            raise PackageFailed(p.target.package.name, f"image build failed: {e.message}\n{step}",
                                hint=_build_hint(e.message + step)) from None


def _buildargs(t: Target) -> dict[str, str]:
    return {"DVBUILD_COMMIT": t.commit, "DVBUILD_INPUT_HASH": t.input_hash}


def _build_hint(text: str) -> str:
    if "requirements.txt" in text:
        return "check the package's requirements.txt: pip's error is above"
    if "apt-get" in text:
        return "check the package's apt.txt"
    return ""


def _push_all(engine: Engine, refs: Iterable[str], auth: Mapping[str, str] | None,
              result: BuildResult) -> None:
    for ref in refs:
        engine.push(ref, auth, console.log)
    result.pushed = True
