"""The packages' last run durations: what detect balances its shards by.

Read from run documents with one `runs()` call (a search answers one page, the
newest runs; a package missing from it counts as the median of the others), so
a thousand packages cost one request, not a thousand.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dvbuild.catalogs import Catalog

# Runs that ran every notebook: a failed or invalid run may have stopped at the first
# cell, a rollback ran nothing. A timed-out run ran at least as long as its timeout.
TIMED = frozenset({"published", "unchanged", "timed_out"})


def last_durations(catalog: Catalog, names: Collection[str]) -> dict[str, float]:
    """Seconds of each named package's newest run that ran its notebooks."""
    wanted = set(names)
    found: dict[str, float] = {}
    for run in catalog.runs():  # newest first
        name, seconds = run.get("package"), run.get("duration")
        if (name in wanted and name not in found and run.get("status") in TIMED
                and isinstance(seconds, int | float) and not isinstance(seconds, bool)
                and math.isfinite(seconds) and seconds > 0):
            found[name] = float(seconds)
    return found
