"""dvbuild: CI builds for notebook data packages in a git monorepo.

Inside a notebook: `from dvbuild import Datapackage`. The import is lazy so the
CLI stays quick to start.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Datapackage", "__version__", "connect", "read_sql"]


def __getattr__(name: str) -> Any:
    if name == "Datapackage":
        from dvbuild.api.datapackage import Datapackage

        return Datapackage
    if name in ("read_sql", "connect"):
        from dvbuild.api import sources

        return getattr(sources, name)
    raise AttributeError(name)
