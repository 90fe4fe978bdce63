"""dvbuild: CI builds for notebook data packages in a git monorepo.

Inside a notebook: `from dvbuild import Datapackage`, `dvbuild.read_dp(...)`.
The imports are lazy so the CLI stays quick to start.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["DataPackageError", "Datapackage", "__version__", "connect", "read_dp", "read_sql"]


def __getattr__(name: str) -> Any:
    if name == "Datapackage":
        from dvbuild.api.datapackage import Datapackage

        return Datapackage
    if name in ("read_sql", "connect"):
        from dvbuild.api import sources

        return getattr(sources, name)
    if name == "read_dp":
        from dvbuild.api.read import read_dp

        return read_dp
    if name == "DataPackageError":
        from dvbuild.errors import DataPackageError

        return DataPackageError
    raise AttributeError(name)
