"""Values → manifest text through the jinja templates in `templates/` (pure).

The environment's `finalize` is `yaml_scalar`, so every `{{ value }}` is written as a
YAML-safe scalar; templates come from files only, package text is never template source.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from dvbuild.errors import ConfigError
from dvbuild.manifests.values import Values, job_values
from dvbuild.manifests.yamltext import yaml_scalar
from dvbuild.package import Package
from dvbuild.settings import Settings


def template_dir() -> Path:
    """`templates/` as shipped in the wheel (dvbuild/templates), else in the source tree."""
    import dvbuild

    shipped = Path(dvbuild.__file__).parent / "templates"
    return shipped if shipped.is_dir() else Path(dvbuild.__file__).parent.parent / "templates"


@lru_cache(maxsize=4)
def _template(kind: str) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()), undefined=jinja2.StrictUndefined,
        autoescape=False, finalize=yaml_scalar, keep_trailing_newline=True,
    )
    return env.get_template(f"{kind}.yaml.j2")


def render_text(values: Values, kind: str) -> str:
    return str(_template(kind).render(**values.data))


def render_naisjob(settings: Settings, package: Package, image: str) -> str:
    """The Naisjob YAML for one package (not validated; raises on bad settings)."""
    return _render_checked(settings, package, image, "naisjob")


def render_cronjob(settings: Settings, package: Package, image: str) -> str:
    """The batch/v1 CronJob YAML for one package (not validated; raises on bad settings)."""
    return _render_checked(settings, package, image, "cronjob")


def _render_checked(settings: Settings, package: Package, image: str, kind: str) -> str:
    values = job_values(settings, package, image, kind)
    if values.problems:
        raise ConfigError(values.problems)
    return render_text(values, kind)
