"""Shared helpers for the team's data packages.

Packages that import this list "shared/lib" in `depends_on`: dvbuild puts every
`depends_on` folder on PYTHONPATH when it runs their notebooks (and copies it
into their image), and a change here rebuilds them.
"""

from teamdata.kodeverk import NAERINGER, naering_navn
from teamdata.stats import andel_prosent, glidende_snitt

__all__ = ["NAERINGER", "andel_prosent", "glidende_snitt", "naering_navn"]
