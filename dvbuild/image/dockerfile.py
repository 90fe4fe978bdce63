"""The Dockerfile: the package's own, or the template rendered (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dvbuild import __version__, templating
from dvbuild.image.naming import Target
from dvbuild.package import Package
from dvbuild.settings import Settings

DEFAULT_EXTRAS = ("s3", "elastic")
IMAGE_UID = 10001



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
    values = {
        "name": name, "path": path, "base_image": base_image, "wheel": wheel,
        "extras": list(extras), "apt": apt, "ca": ca, "uid": uid, "dvbuild_version": __version__,
        "commit": commit, "input_hash": input_hash, "labels": dict(labels or {}),
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


