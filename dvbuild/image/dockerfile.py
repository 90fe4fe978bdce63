"""The Dockerfile: the package's own, or the template rendered (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dvbuild import __version__, templating
from dvbuild.errors import ConfigError, Problem
from dvbuild.image.naming import REFERENCE_RULE, Target, reference_problem
from dvbuild.package import Package
from dvbuild.settings import CONFIG_FILE, Settings

DEFAULT_EXTRAS = ("s3", "elastic")
# dvbuild's optional dependencies (pyproject.toml), the names `docker.extras` may list
EXTRAS = ("data", "s3", "elastic", "docker", "github", "vault", "sql", "k8s", "all")
EXTRAS_RULE = "a list of dvbuild extras: " + ", ".join(EXTRAS)
DOCKER_KEYS = ("base_image", "extras")
IMAGE_UID = 10001


def docker_problems(value: Any) -> list[tuple[str, str, str]]:
    """(pointer, message, expected) for a package's `docker` object: what `validate`
    reports and what rendering the Dockerfile refuses (its values go into the text)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [("/docker", f"docker is {type(value).__name__}",
                 "an object with base_image and extras")]
    found = []
    if "base_image" in value and value["base_image"] is not None:
        why = reference_problem(value["base_image"])
        if why:
            found.append(("/docker/base_image", f"base_image {why}", REFERENCE_RULE))
    listed = value.get("extras")
    if listed is not None and not isinstance(listed, list):
        found.append(("/docker/extras", f"extras is {type(listed).__name__}", EXTRAS_RULE))
    for i, extra in enumerate(listed if isinstance(listed, list) else []):
        if not isinstance(extra, str) or extra not in EXTRAS:
            shown = repr(extra) if len(repr(extra)) <= 40 else repr(extra)[:37] + "..."
            found.append((f"/docker/extras/{i}", f"extra {shown} is not one of dvbuild's",
                          EXTRAS_RULE))
    return found


def docker_options(package: Package) -> dict[str, Any]:
    """The package's `docker` object (not `image`: the Data Package spec owns that name);
    raises ConfigError for what `validate` refuses in it."""
    value = package.descriptor.get("docker")
    problems = [Problem(package.descriptor_file, message, pointer, expected=expected)
                for pointer, message, expected in docker_problems(value)]
    if problems:
        raise ConfigError(problems)
    return dict(value) if isinstance(value, dict) else {}


def base_image(settings: Settings, package: Package) -> str:
    """The package's `docker.base_image`, else dvbuild.yaml `base_image` (or
    $DVBUILD_BASE_IMAGE), each checked: it becomes the FROM line."""
    own = docker_options(package).get("base_image")
    if own is not None:
        return str(own)
    why = reference_problem(settings.config.base_image)
    if why:
        raise ConfigError(Problem(CONFIG_FILE, f"base_image {why}", pointer="/base_image",
                                  expected=REFERENCE_RULE))
    return settings.config.base_image


def extras(package: Package) -> list[str]:
    """dvbuild extras installed in the image: `docker.extras`, else s3 + elastic (publish)."""
    own = docker_options(package).get("extras")
    return [str(e) for e in own] if isinstance(own, list) else list(DEFAULT_EXTRAS)


def render_dockerfile(
    *, name: str, path: str, base_image: str, wheel: str, extras: Sequence[str],
    apt: bool, ca: bool, commit: str = "", input_hash: str = "", image_ref: str = "",
    labels: Mapping[str, str] | None = None, uid: int = IMAGE_UID,
    uv_image: str = "dvbuild-uv:latest", index: bool = False,
) -> str:
    """The template rendered (pure: strings in, text out). `uv_image` holds the uv binary
    (COPY --from); `index`: the build passes the host's package index as a build arg."""
    values = {
        "name": name, "path": path, "base_image": base_image, "wheel": wheel,
        "extras": list(extras), "apt": apt, "ca": ca, "uid": uid, "dvbuild_version": __version__,
        "uv_image": uv_image, "index": index,
        "commit": commit, "input_hash": input_hash, "image_ref": image_ref,
        "labels": dict(labels or {}),
    }
    env = templating.environment(filters={"dockerquote": dockerquote})
    return templating.render("Dockerfile.j2", values, env)


def dockerquote(value: str) -> str:
    """A double-quoted Dockerfile word: no variable expansion, no line breaks."""
    text = " ".join(str(value).split())
    for char in ("\\", '"', "$"):
        text = text.replace(char, "\\" + char)
    return f'"{text}"'


def choose_dockerfile(
    settings: Settings, t: Target, *, wheel: str, ca: bool, labels: Mapping[str, str],
    uv_image: str = "dvbuild-uv:latest", index: bool = False,
) -> tuple[str, str]:
    """(text, source): the package's own Dockerfile wins, else the template."""
    package = t.package
    own = package.folder / "Dockerfile"
    if own.is_file():
        return own.read_text(encoding="utf-8"), _rel(package, "Dockerfile")
    text = render_dockerfile(
        name=package.name, path=package.path, base_image=base_image(settings, package),
        wheel=wheel, extras=extras(package), apt=(package.folder / "apt.txt").is_file(), ca=ca,
        commit=t.commit, input_hash=t.input_hash, image_ref=t.tags[0], labels=labels,
        uv_image=uv_image, index=index,
    )
    return text, "template"


def _rel(package: Package, name: str) -> str:
    return name if package.path == "." else f"{package.path}/{name}"


