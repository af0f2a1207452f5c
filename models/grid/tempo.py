"""Tempo: its colours, its season, and how many days of each colour a season holds.

RTE announces each day's colour the day before. A season (1 September – 31 August, see
`models.calendar`) has 22 red days and 43 white days; every other day is blue (300 in a
365-day season, 301 in a leap season). A colour's price applies for the Tempo day,
06:00 to 06:00 (`models.calendar.tempo_day`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from models.calendar import tempo_season_start

TEMPO_COLOURS = ("BLUE", "WHITE", "RED")
# Days per season of the colours RTE may place (the rest of the season is blue).
QUOTAS = {"RED": 22, "WHITE": 43}


def season(day: date) -> tuple[date, date]:
    """[1 September, 31 August] of the Tempo season holding `day`."""
    first = tempo_season_start(day)
    return first, date(first.year + 1, 8, 31)


def season_quotas(first: date, last: date) -> dict[str, int]:
    """Days of each colour in the season [first, last]: red, white, then blue (what is left)."""
    return {**QUOTAS, "BLUE": (last - first).days + 1 - sum(QUOTAS.values())}


@dataclass(frozen=True)
class SeasonCount:
    """Days of each colour a season holds, has used so far, and has left."""

    quotas: dict[str, int]
    used: dict[str, int]
    remaining: dict[str, int]


def count_season(first: date, last: date, colours: Iterable[str]) -> SeasonCount:
    """Count the known colours of the season [first, last] against its quotas."""
    quotas = season_quotas(first, last)
    seen = Counter(colours)
    used = {c: seen[c] for c in quotas}
    return SeasonCount(quotas, used, {c: max(0, q - used[c]) for c, q in quotas.items()})
