"""Small statistics helpers that keep the packages' numbers computed the same way."""

from __future__ import annotations

from typing import Any


def andel_prosent(teller: Any, nevner: Any, desimaler: int = 1) -> Any:
    """teller / nevner in percent, rounded (works on numbers and pandas Series)."""
    return (teller / nevner * 100).round(desimaler) if hasattr(teller, "round") \
        else round(teller / nevner * 100, desimaler)


def glidende_snitt(serie: Any, vindu: int = 4) -> Any:
    """Rolling mean over `vindu` periods (the first ones use what there is)."""
    return serie.rolling(vindu, min_periods=1).mean().round(2)
