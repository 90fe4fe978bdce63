"""Code lists (SN2007 industry codes, top level) used across packages."""

from __future__ import annotations

NAERINGER = {
    "A": "Jordbruk, skogbruk og fiske",
    "C": "Industri",
    "F": "Bygge- og anleggsvirksomhet",
    "G": "Varehandel",
    "H": "Transport og lagring",
    "P": "Undervisning",
    "Q": "Helse- og sosialtjenester",
}


def naering_navn(kode: str) -> str:
    """The name of an industry code; unknown codes are returned as they are."""
    return NAERINGER.get(kode, kode)
