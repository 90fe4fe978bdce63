"""`reads` across packages: each name is a package of the monorepo (or marked external),
no package reads itself, and no packages read each other in a cycle.

fields.py checks the shape of each entry; these rules need every package of the
repository, also when only some are validated. Problems go to the chosen ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from dvbuild.package import local_reads, read_cycles, read_entries
from dvbuild.validate import spec

Issue = spec.Issue
NO_CYCLE = "packages that do not read each other in a cycle"


def issues(descriptors: Mapping[str, Mapping[str, Any]],
           chosen: Collection[str]) -> Iterator[tuple[str, Issue]]:
    """(package folder, issue) for the chosen folders; `descriptors` holds every readable
    descriptor of the repository by folder."""
    where = _folders(descriptors)
    cycles = read_cycles({name: local_reads(descriptors[rel].get("reads"))
                          for name, rel in where.items()})
    for rel in chosen:
        if rel in descriptors:
            for issue in _entries(descriptors[rel], where):
                yield rel, issue
            name = descriptors[rel].get("name")
            if isinstance(name, str) and where.get(name) == rel and name in cycles:
                yield rel, ("/reads", "read cycle: " + " → ".join(cycles[name]), NO_CYCLE)


def _folders(descriptors: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """name -> folder (the first folder by path, should two share a name)."""
    where: dict[str, str] = {}
    for rel in sorted(descriptors):
        name = descriptors[rel].get("name")
        if isinstance(name, str):
            where.setdefault(name, rel)
    return where


def _entries(descriptor: Mapping[str, Any], where: Mapping[str, str]) -> Iterator[Issue]:
    own, listed = descriptor.get("name"), descriptor.get("reads")
    entries: list[Any] = listed if isinstance(listed, list) else []
    for i, read in read_entries(entries):
        at = f"/reads/{i}/name" if isinstance(entries[i], dict) else f"/reads/{i}"
        if read.name == own:
            yield at, f"{own!r} reads itself", "names of other packages"
        elif read.external and read.name in where:
            yield f"/reads/{i}/external", f"{read.name!r} is marked external, but it is the " \
                f"package in {where[read.name]}", "no \"external\" for a package of this monorepo"
        elif not read.external and read.name not in where:
            yield at, _unknown(read.name, where), \
                f'a package of this monorepo, or {{"name": "{read.name}", "external": true}}'


def _unknown(name: str, where: Mapping[str, str]) -> str:
    near = difflib.get_close_matches(name, list(where), n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"{name!r} is not a package in this monorepo{hint}"
