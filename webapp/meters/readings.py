"""Pure arithmetic on cached readings (unit-tested): kWh, sums over days, the off-peak split."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from models.offpeak import OffPeakRange, offpeak_minutes
from webapp.clock import PARIS


def kwh(wh: float | None) -> float | None:
    return None if wh is None else round(wh / 1000, 3)


def same_day_last_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return date(day.year - 1, 2, 28)


def local_start(point: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(point["start"]).astimezone(PARIS)


def split_offpeak(curve: list[dict[str, Any]], ranges: tuple[OffPeakRange, ...]) -> tuple[float, float]:
    """(off-peak Wh, peak Wh) of load-curve points, an interval shared pro rata of its minutes."""
    off = peak = 0.0
    for point in curve:
        minutes = int(point.get("minutes") or 30)
        wh = float(point["wh"])
        share = offpeak_minutes(ranges, local_start(point), minutes) / minutes if ranges else 0.0
        off += wh * share
        peak += wh * (1 - share)
    return off, peak


def daily_wh(value: Any) -> float | None:
    """Wh of a cached daily entry ({"day", "value"}), None for a known gap."""
    if isinstance(value, dict) and value.get("value") is not None:
        return float(value["value"])
    return None


def sum_days(days: dict[date, Any], first: date, last: date) -> tuple[float | None, int]:
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
