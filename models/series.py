"""The catalogue of what Relevé keeps for a meter: each series, its point kind, interval and history.

The pipeline fetches and caches these series (`pipeline/series.py` adds how each one is
fetched and cut into windows); the pages read them by role (`SERIES_OF`). One list, so a
series added here is fetched, cached, forgotten and shown under one name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    name: str  # also the cache's entry name (`{name}:{YYYY-MM-DD}`)
    kind: str  # "consumption" or "production": the point kind it exists for
    window_days: int  # the longest window Enedis serves in one call
    history_months: int  # how far back Enedis keeps it
    load_curve: bool = False  # 30-minute (or 10/15/60) intervals; otherwise one value a day


SERIES: dict[str, Series] = {
    s.name: s
    for s in (
        Series("daily_consumption", "consumption", 365, 36),
        Series("max_power", "consumption", 365, 36),
        Series("load_curve", "consumption", 7, 24, load_curve=True),
        Series("daily_production", "production", 365, 36),
        Series("production_load_curve", "production", 7, 24, load_curve=True),
    )
}

# What each page reads, by point kind: daily energy, load curve, daily max power.
SERIES_OF = {
    "consumption": {"daily": "daily_consumption", "curve": "load_curve", "max": "max_power"},
    "production": {"daily": "daily_production", "curve": "production_load_curve", "max": None},
}
CONSUMER_KINDS = ("consumption", "unknown")  # an unknown point is tried as consumption first


def series_for(kind: str, load_curve_enabled: bool = True) -> list[Series]:
    """The series of a point of this kind (an unknown kind is tried as consumption first)."""
    kind = "consumption" if kind == "unknown" else kind
    return [s for s in SERIES.values() if s.kind == kind and (load_curve_enabled or not s.load_curve)]
