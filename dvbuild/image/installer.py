"""What installs the package's lock in the image: uv, the tool that resolved it, and the
package index the host resolves from.

uv is not downloaded in the build: its binary, from the host's `uv` wheel, goes into a
one-file image `dvbuild-uv:<version>` (built once per engine, tiny context), which the
package's Dockerfile copies it from (`COPY --from`). A package build's context then
stays small, so a notebook-only rebuild does not send 40 MB of uv every time.
"""

from __future__ import annotations

import configparser
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from dvbuild.errors import ConfigError, MissingDependency, Problem
from dvbuild.image.context import ContextFile

UV_REPOSITORY = "dvbuild-uv"
UV_DOCKERFILE = "FROM scratch\nCOPY uv /uv\n"
INDEX_ARG = "UV_DEFAULT_INDEX"


def uv_binary() -> Path:
    try:
        import uv
    except ImportError:
        raise MissingDependency("uv", "uv") from None
    return Path(uv.find_uv_bin())


def uv_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("uv")
    except PackageNotFoundError:
        raise MissingDependency("uv", "uv") from None


def uv_image() -> str:
    return f"{UV_REPOSITORY}:{uv_version()}"


def uv_image_files() -> list[ContextFile]:
    """The build context of `uv_image()`: the host's uv binary, nothing else."""
    return [ContextFile("Dockerfile", data=UV_DOCKERFILE.encode()),
            ContextFile("uv", source=uv_binary(), mode=0o755)]


def index_url(environ: Mapping[str, str]) -> str | None:
    """The host's default package index: uv's variables, pip's, then pip.conf and uv.toml
    (None: PyPI, uv's own default). Only http(s) indexes: a file:// one is not in the image."""
    for found in (environ.get("UV_DEFAULT_INDEX"), environ.get("UV_INDEX_URL"),
                  environ.get("PIP_INDEX_URL"), _pip_conf(environ), _uv_toml(environ)):
        if found:
            return _checked(found.strip())
    return None


def _checked(url: str) -> str | None:
    if not url.startswith(("http://", "https://")):
        return None
    host = url.split("://", 1)[1].split("/", 1)[0]
    if "@" in host:  # build args are recorded in the image's history
        raise ConfigError(Problem("pip/uv configuration", "the package index URL carries "
                                  "credentials, which the image's history would keep",
                                  expected="an index URL without user:password"),
                          hint="give the index its credentials another way (a netrc file)")
    return url


def _pip_conf(environ: Mapping[str, str]) -> str | None:
    home = Path(environ.get("HOME") or Path.home())
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [Path("/etc/pip.conf"), home / ".pip/pip.conf", config_home / "pip/pip.conf"]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    found = None
    for f in files:  # later files win, as in pip
        parser = configparser.ConfigParser()
        try:
            parser.read(f, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            found = parser.get(section, "index-url", fallback=found)
    return found


def _uv_toml(environ: Mapping[str, str]) -> str | None:
    home = Path(environ.get("HOME") or Path.home())
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    for f in (environ.get("UV_CONFIG_FILE"), config_home / "uv/uv.toml", "/etc/uv/uv.toml"):
        if not f or not os.path.isfile(f):
            continue
        try:
            doc = tomllib.loads(Path(f).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        defaults = [i.get("url") for i in doc.get("index", []) if isinstance(i, dict)
                    and i.get("default")]
        value = defaults[0] if defaults else doc.get("index-url")
        if isinstance(value, str):
            return value
    return None
