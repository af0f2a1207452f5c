"""Sums and splits of cached readings: pure functions the pages and the cost engine share.

The shapes are those the pipeline caches (`pipeline/series.py`, `to_json`): a day of daily
energy is `{"day": "YYYY-MM-DD", "value": Wh}` or None for a known gap; a day of load
curve is a list of `{"start": ISO 8601 with offset, "minutes": n, "watts": W, "wh": Wh}`.
Energies are in Wh; a total over days none of which has a value is None, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from models.calendar import PARIS
from models.offpeak import OffPeakRange, offpeak_minutes


def kwh(wh: float | None) -> float | None:
    """Wh → kWh, to the Wh (Enedis counts whole Wh); None stays None."""
    return None if wh is None else round(wh / 1000, 3)


def daily_wh(value: Any) -> float | None:
    """Wh of a cached daily entry ({"day", "value"}), None for a known gap."""
    if isinstance(value, dict) and value.get("value") is not None:
        return float(value["value"])
    return None


def sum_days(days: Mapping[date, Any], first: date, last: date) -> tuple[float | None, int]:
    """Total Wh over [first, last] and how many of those days have no value."""
    total, seen, absent = 0.0, 0, 0
    day = first
    while day <= last:
        wh = daily_wh(days.get(day))
        if wh is None:
            absent += 1
        else:
            total += wh
            seen += 1
        day += timedelta(days=1)
    return (total if seen else None), absent


class DailyTotals:
    """`sum_days` over many spans of the same days, each answered in constant time (prefix sums): a page
    sums two years of daily energy by month, year to date and year before, from one pass over the days."""

    def __init__(self, days: Mapping[date, Any], first: date, last: date):
        self.first = first
        self._wh, self._seen = [0.0], [0]
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            wh = daily_wh(days.get(date.fromordinal(ordinal)))
            self._wh.append(self._wh[-1] + (wh or 0.0))
            self._seen.append(self._seen[-1] + (wh is not None))

    def sum(self, first: date, last: date) -> tuple[float | None, int]:
        """What `sum_days(days, first, last)` answers (days outside those given count as absent)."""
        if last < first:
            return None, 0
        size = len(self._seen) - 1
        i = min(max((first - self.first).days, 0), size)
        j = min(max((last - self.first).days + 1, 0), size)
        seen = self._seen[j] - self._seen[i] if j > i else 0
        total = self._wh[j] - self._wh[i] if j > i else 0.0
        return (total if seen else None), (last - first).days + 1 - seen


def local_start(point: Mapping[str, Any]) -> datetime:
    """A load-curve point's start on the Paris wall clock."""
    return datetime.fromisoformat(point["start"]).astimezone(PARIS)


def load_curve_points(days: Mapping[date, Sequence[dict[str, Any]] | None]) -> list[dict[str, Any]]:
    """The load-curve points of several cached days, in time order (DST nights included)."""
    points = [p for day in sorted(days) for p in (days[day] or [])]
    # By instant, not by text: on the fall-back night 02:00+01:00 comes after 02:30+02:00.
    return sorted(points, key=lambda p: datetime.fromisoformat(p["start"]))


def split_offpeak(curve: Iterable[Mapping[str, Any]], ranges: tuple[OffPeakRange, ...]) -> tuple[float, float]:
    """(off-peak Wh, peak Wh) of load-curve points, an interval shared pro rata of its minutes."""
    off = peak = 0.0
    for point in curve:
        minutes = int(point.get("minutes") or 30)
        wh = float(point["wh"])
        share = offpeak_minutes(ranges, local_start(point), minutes) / minutes if ranges else 0.0
        off += wh * share
        peak += wh * (1 - share)
    return off, peak


@dataclass(frozen=True)
class Balance:
    """Consumption against production over the days where both are known (Wh; None when no such day)."""

    days: int
    consumed: float | None
    produced: float | None
    surplus: float | None  # produced beyond what was consumed, day by day
    deficit: float | None  # consumed beyond what was produced, day by day


def daily_balance(consumed: Sequence[float | None], produced: Sequence[float | None]) -> Balance:
    """Day-by-day balance of two aligned series of daily Wh (a day missing from either is left out)."""
    both = [(c, p) for c, p in zip(consumed, produced) if c is not None and p is not None]
    if not both:
        return Balance(0, None, None, None, None)
    return Balance(
        days=len(both),
        consumed=sum(c for c, _ in both),
        produced=sum(p for _, p in both),
        surplus=sum(max(0.0, p - c) for c, p in both),
        deficit=sum(max(0.0, c - p) for c, p in both),
    )
