"""The jinja2 templates in `templates/`: where they are and how they are rendered.

Every renderer (Dockerfile, PR comment, package scaffold, manifests) goes through
here, so they agree on the folder and on StrictUndefined (a missing value is a
bug, never an empty string). Templates come from files only: text a user wrote is
a value, never template source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvbuild.errors import DvbuildError

if TYPE_CHECKING:
    import jinja2


def templates_dir() -> Path:
    """Installed: dvbuild/templates in the wheel; from a checkout: the repo's templates/."""
    import dvbuild

    package = Path(dvbuild.__file__).parent
    for candidate in (package / "templates", package.parent / "templates"):
        if any(candidate.glob("*.j2")):  # not a stray empty folder
            return candidate
    raise DvbuildError("dvbuild's templates folder is missing", hint="reinstall dvbuild")


def environment(
    *, autoescape: bool = False, trim_blocks: bool = False,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    finalize: Callable[[Any], Any] | None = None,
) -> jinja2.Environment:
    """A jinja2 environment over templates_dir(); `trim_blocks` also strips the
    whitespace before a block tag, `finalize` sees every `{{ value }}`."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()), undefined=jinja2.StrictUndefined,
        autoescape=autoescape, trim_blocks=trim_blocks, lstrip_blocks=trim_blocks,
        keep_trailing_newline=True, finalize=finalize,
    )
    env.filters.update(filters or {})
    return env


def render(name: str, values: Mapping[str, Any], env: jinja2.Environment | None = None) -> str:
    """The template `name` (a path below templates/) filled with `values` (pure)."""
    return (env or environment()).get_template(name).render(**values)
