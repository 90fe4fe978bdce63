"""Named data sources for notebooks: what dataverk's `dv.read_sql(source=..., query=...)` was.

    # dvbuild.yaml
    sources:
      dvh: {url: "postgresql+psycopg://etl:${DVH_PASSWORD}@dvh.intern/dvh"}

    # a notebook
    import dvbuild
    df = dvbuild.read_sql("select * from ledige", source="dvh")

Each `${NAME}` is filled from the environment, where `dvbuild test`/`run` put
the package's resolved `secrets`. Values placed in the user/password part are
percent-encoded, so a password may hold '@', ':' or '/'. The resolved URL is a
secret: it never appears in an error; errors show the URL as written.

dvbuild.yaml is found through `$DVBUILD_CONFIG` (set by dvbuild when it runs
notebooks), else the nearest one at or above the working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dvbuild.errors import ConfigError, MissingDependency, Problem, ServiceError

CONFIG_ENV = "DVBUILD_CONFIG"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Source:
    name: str
    template: str  # the URL as written, with ${NAME} placeholders: safe to show

    def url(self, environ: Mapping[str, str]) -> str:
        """The URL with placeholders filled (a secret: never log it)."""
        missing = [n for n in _PLACEHOLDER.findall(self.template) if n not in environ]
        if missing:
            names = ", ".join("${" + n + "}" for n in missing)
            raise ConfigError(Problem(
                "dvbuild.yaml", f"source {self.name!r}: {names} is not set", f"/sources/{self.name}",
                expected="the variable in the environment, e.g. from the package's secrets"))
        return _fill(self.template, environ)

    def secrets(self, environ: Mapping[str, str]) -> list[str]:
        values = [environ[n] for n in _PLACEHOLDER.findall(self.template) if n in environ]
        return [v for v in values if v]


def _fill(template: str, environ: Mapping[str, str]) -> str:
    """Fill placeholders; those in the userinfo (before '@' after '://') are percent-encoded."""
    scheme, sep, rest = template.partition("://")
    if not sep or "@" not in rest:
        return _PLACEHOLDER.sub(lambda m: environ[m.group(1)], template)
    userinfo, _, host = rest.rpartition("@")
    user = _PLACEHOLDER.sub(lambda m: quote(environ[m.group(1)], safe=""), userinfo)
    return f"{scheme}://{user}@{_PLACEHOLDER.sub(lambda m: environ[m.group(1)], host)}"


def find_source(name: str, environ: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> Source:
    """The source called `name` in dvbuild.yaml; a URL given as the name is used as is."""
    if "://" in name:
        return Source("(url)", name)
    env = os.environ if environ is None else environ
    config = _config_file(env, cwd or Path.cwd())
    if config is None:
        raise ConfigError(Problem("dvbuild.yaml", f"source {name!r} asked for, but no "
                                  "dvbuild.yaml was found", expected=f"${CONFIG_ENV} or a "
                                  "dvbuild.yaml at or above the working directory"))
    from dvbuild.settings import load_config

    sources = load_config(config.parent).sources
    entry = sources.get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigError(Problem(str(config), f"no source {name!r} (known: {known})",
                                  f"/sources/{name}", expected="sources: {NAME: {url: ...}}"))
    return Source(name, entry["url"])


def _config_file(environ: Mapping[str, str], cwd: Path) -> Path | None:
    if environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
        return path if path.is_file() else None
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        if (folder / "dvbuild.yaml").is_file():
            return folder / "dvbuild.yaml"
    return None


def engine(source: str, *, environ: Mapping[str, str] | None = None) -> Any:
    """A SQLAlchemy engine for a named source."""
    env = os.environ if environ is None else environ
    found = find_source(source, env)
    url = found.url(env)
    _mask(found, url, env)
    try:
        import sqlalchemy
    except ImportError:
        raise MissingDependency("sqlalchemy", "sql") from None
    try:
        return sqlalchemy.create_engine(url)
    except Exception as e:  # bad URL, missing driver: say so without the URL
        raise ServiceError(_safe(f"source {found.name!r} ({found.template}): cannot create an "
                                 f"engine: {type(e).__name__}: {e}", found, url, env)) from None


def connect(source: str, *, environ: Mapping[str, str] | None = None) -> Any:
    """An open SQLAlchemy connection to a named source (close it, or use `with`)."""
    env = os.environ if environ is None else environ
    found = find_source(source, env)
    eng = engine(source, environ=env)
    try:
        return eng.connect()
    except Exception as e:
        url = found.url(env)
        raise ServiceError(_safe(f"source {found.name!r} ({found.template}): cannot connect: "
                                 f"{type(e).__name__}: {_first_line(e)}", found, url, env)) from None


def read_sql(query: str, source: str, *, params: Mapping[str, Any] | None = None,
             environ: Mapping[str, str] | None = None) -> Any:
    """Run a query on a named source; returns a pandas DataFrame."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependency("pandas", "data") from None
    import sqlalchemy

    env = os.environ if environ is None else environ
    found = find_source(source, env)
    with connect(source, environ=env) as conn:
        try:
            return pd.read_sql(sqlalchemy.text(query), conn, params=dict(params or {}))
        except Exception as e:
            raise ServiceError(_safe(f"source {found.name!r}: query failed: "
                                     f"{type(e).__name__}: {_first_line(e)}",
                                     found, found.url(env), env)) from None


def _mask(found: Source, url: str, environ: Mapping[str, str]) -> None:
    from dvbuild import console

    for value in [url, *found.secrets(environ)]:
        console.mask(value)


def _safe(message: str, found: Source, url: str, environ: Mapping[str, str]) -> str:
    for value in sorted([url, *found.secrets(environ), *_encoded(found, environ)],
                        key=len, reverse=True):
        if value and len(value) >= 3:
            message = message.replace(value, "***")
    return message


def _encoded(found: Source, environ: Mapping[str, str]) -> list[str]:
    return [quote(v, safe="") for v in found.secrets(environ)]


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""
