"""Values → manifest dict (`build`) → checked (`check`) → YAML text (pure).

The text is `yaml.dump` with PyYAML's safe representers (libyaml's emitter where it is
installed), keys in the order built, after a header comment naming the source file.
A string holding a line break is written double-quoted with escapes, and lines are
never folded, so every key sits on its own line: `managed` finds the package
annotation by line, and the output stays ASCII.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, NamedTuple

from dvbuild.errors import ConfigError, Problem
from dvbuild.manifests.build import document
from dvbuild.manifests.check import manifest_problems
from dvbuild.manifests.values import Values, job_values
from dvbuild.package import Package
from dvbuild.settings import Settings

HEADER = "# Rendered by dvbuild from {source}; do not edit, re-run `dvbuild render`.\n"
_BREAKS = frozenset("\n\r\x85\u2028\u2029")


class Rendered(NamedTuple):
    values: Values
    text: str  # "" when there are problems
    problems: list[Problem]


def render(settings: Settings, package: Package, image: str, kind: str) -> Rendered:
    """One package's manifest of `kind`, checked; problems are returned, not raised."""
    values, manifest, problems = _checked_document(settings, package, image, kind)
    text = "" if problems else to_yaml(manifest, values.descriptor_file)
    return Rendered(values, text, problems)


def _checked_document(settings: Settings, package: Package, image: str,
                      kind: str) -> tuple[Values, dict[str, Any], list[Problem]]:
    """(values, the manifest as a dict, what is wrong with either): render without YAML."""
    values = job_values(settings, package, image, kind)
    if values.problems:
        return values, {}, values.problems
    manifest = document(values, kind)
    return values, manifest, manifest_problems(manifest, kind, values)


def job_problems(settings: Settings, package: Package, kind: str = "naisjob") -> list[Problem]:
    """What `render` refuses in a scheduled package's manifest, for `validate` to report:
    the image's tag stands in for the input hash (64 hex digits whatever the input)."""
    from dvbuild.image.naming import repository

    if not package.schedule:
        return []
    image = f"{repository(settings, package)}:{'0' * 64}"
    return _checked_document(settings, package, image, kind)[2]


def render_naisjob(settings: Settings, package: Package, image: str) -> str:
    """The Naisjob YAML for one package; raises ConfigError (exit 2) if it is invalid."""
    return _checked(render(settings, package, image, "naisjob"))


def render_cronjob(settings: Settings, package: Package, image: str) -> str:
    """The batch/v1 CronJob YAML for one package; raises ConfigError if it is invalid."""
    return _checked(render(settings, package, image, "cronjob"))


def _checked(rendered: Rendered) -> str:
    if rendered.problems:
        raise ConfigError(rendered.problems)
    return rendered.text


def to_yaml(manifest: dict[str, Any], source: str) -> str:
    import yaml

    header = HEADER.format(source=json.dumps(source))  # JSON-quoted: no line break gets out
    return header + yaml.dump(manifest, Dumper=_dumper(), sort_keys=False, allow_unicode=False,
                              width=1 << 30)


@lru_cache(maxsize=1)
def _dumper() -> Any:
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True  # a list used twice is written twice, not as an anchor and alias

    def text(dumper: Any, value: str) -> Any:
        style = '"' if not _BREAKS.isdisjoint(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper
