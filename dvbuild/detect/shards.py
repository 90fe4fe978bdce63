"""More selected packages than matrix jobs: shards balanced by the packages' last durations.

GitHub Actions runs at most 256 jobs from one matrix, and a runner pool far fewer
at once, so past `--max-jobs` packages detect groups them into exactly that many
shards. Longest package first, each into the shard with the least work so far
(longest-processing-time-first): the longest shard is at most the optimum plus
one package's time. `balance` is pure; `plan` reads the durations (from the
catalog's run documents, only when sharding is needed) and says what it assumed.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from dvbuild.package import Package
from dvbuild.settings import Settings

DEFAULT_DURATION = 1.0  # seconds each package counts for when no run of any is known


class Shard(NamedTuple):
    name: str  # shard-<i>-of-<n>, 1-based
    paths: list[str]  # package folders, sorted
    seconds: float  # the sum of its packages' (estimated) durations


def balance(durations: Mapping[str, float], n: int) -> list[Shard]:
    """`n` shards (fewer only when there are fewer packages), every package in exactly
    one. Deterministic: ties between durations go by path, between shards by fewest
    packages then lowest number, so equal durations split by counts."""
    order = sorted(durations, key=lambda path: (-durations[path], path))
    n = min(n, len(order))
    heap = [(0.0, 0, i) for i in range(n)]
    members: list[list[str]] = [[] for _ in range(n)]
    for path in order:
        load, count, i = heapq.heappop(heap)
        members[i].append(path)
        heapq.heappush(heap, (load + durations[path], count + 1, i))
    return [Shard(f"shard-{i + 1}-of-{n}", sorted(paths), sum(durations[p] for p in paths))
            for i, paths in enumerate(members)]


def with_defaults(paths: Sequence[str], known: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Every path's duration: its known one, else the median of the known ones (else
    DEFAULT_DURATION, which makes the shards balance package counts). Returns the default too."""
    default = statistics.median(known.values()) if known else DEFAULT_DURATION
    return {p: known.get(p, default) for p in paths}, default


def plan(settings: Settings, packages: Sequence[Package], max_jobs: int,
         catalog_url: str | None = None) -> tuple[list[Shard], list[str]]:
    """The shards for `packages` and the notices saying how they were balanced."""
    url = catalog_url or settings.config.catalog
    known, notices = _known_durations(settings, packages, url)
    durations, default = with_defaults([p.path for p in packages], known)
    shards = balance(durations, max_jobs)
    missing = len(packages) - len(known)
    if known and missing:
        notices.append(f"{missing} of {len(packages)} packages have no finished run in the "
                       f"catalog: each counted as {default:.0f} s (the median of the others)")
    summary = (f"{len(packages)} packages, more than --max-jobs {max_jobs}: "
               f"{len(shards)} shards, balanced ")
    summary += (f"by their last run durations (longest about {max(s.seconds for s in shards):.0f} s)"
                if known else "by package counts")
    return shards, [summary, *notices]


def _known_durations(settings: Settings, packages: Sequence[Package],
                     url: str | None) -> tuple[dict[str, float], list[str]]:
    """Durations by package path, and why there are none when the catalog did not help."""
    if not url:
        return {}, ["no catalog to read run durations from (dvbuild.yaml `catalog`, "
                    "DVBUILD_CATALOG or --durations-from)"]
    from dvbuild.catalogs import open_catalog
    from dvbuild.catalogs.durations import last_durations
    from dvbuild.errors import DvbuildError
    from dvbuild.util import without_credentials

    shown = without_credentials(url)  # no user:password@ in a notice
    try:
        by_name = last_durations(open_catalog(url, settings.environ), [p.name for p in packages])
    except (DvbuildError, OSError, ValueError) as e:  # durations are a hint, never a failure
        why = e.message if isinstance(e, DvbuildError) else f"{shown}: {e}"
        return {}, [f"cannot read run durations: {why}"]
    if not by_name:
        return {}, [f"the catalog {shown} holds no finished run of these packages"]
    return {p.path: by_name[p.name] for p in packages if p.name in by_name}, []
