"""How each series of `models.series` is fetched from Enedis, cut into windows and cached per day."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from models.calendar import day_minutes
from models.series import Series
from pipeline.clients.enedis import DailyValue, EnedisClient, LoadPoint, MaxPower, to_json

# D-1 and D-2 may be partial and corrected later: they are fetched again until older.
SETTLED_AFTER_DAYS = 3


def fetch(series: Series, client: EnedisClient, pdl: str, start: date, end: date) -> list[DailyValue | LoadPoint | MaxPower]:
    """[start, end) of one series of a point, from Enedis."""
    if series.name == "daily_consumption":
        return client.daily_consumption(pdl, start, end)
    if series.name == "max_power":
        return client.max_power(pdl, start, end)
    if series.name == "daily_production":
        return client.daily_production(pdl, start, end)
    return client.load_curve(pdl, start, end, production=series.kind == "production")


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):  # clamp 31 March minus one month to 28/29 February
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def history_start(series: Series, today: date, activation: date | None = None) -> date:
    """First day Enedis may still serve: N months + 15 days back, not before activation."""
    limit = months_before(today, series.history_months) - timedelta(days=15)
    # A day of margin: upstream counts the limit from its own clock, which may differ from ours.
    limit += timedelta(days=1)
    return max(limit, activation) if activation else limit


def plan_windows(series: Series, first: date, end: date) -> list[tuple[date, date]]:
    """Windows [start, end) covering [first, end), newest first, each at most window_days long."""
    windows = []
    while end > first:
        start = max(first, end - timedelta(days=series.window_days))
        windows.append((start, end))
        end = start
    return windows


def windows_for_days(series: Series, days: list[date]) -> list[tuple[date, date]]:
    """Windows covering exactly the runs of consecutive `days` (not what lies between two runs), newest first."""
    windows: list[tuple[date, date]] = []
    run_first = previous = None
    for day in sorted(set(days)) + [None]:
        if day is not None and previous is not None and day == previous + timedelta(days=1):
            previous = day
            continue
        if run_first is not None:
            windows += plan_windows(series, run_first, previous + timedelta(days=1))
        run_first = previous = day
    return sorted(windows, key=lambda w: w[1], reverse=True)


def group_by_day(series: Series, items: list, start: date, end: date, today: date) -> tuple[dict[date, Any], dict[date, bool]]:
    """Cache payloads per day for [start, end) and whether each day is final.

    A day is final when it is settled (older than D-3), or when its load curve covers the
    whole day. Settled days with nothing are cached as empty (a known gap, not asked again).
    """
    days: dict[date, Any] = {}
    by_day: dict[date, list] = defaultdict(list)
    for item in items:
        by_day[item.day].append(item)
    complete: dict[date, bool] = {}
    for offset in range((end - start).days):
        day = start + timedelta(days=offset)
        found = by_day.get(day, [])
        settled = (today - day).days >= SETTLED_AFTER_DAYS
        if not found and not settled:
            continue  # recent and empty: leave it missing, ask again later
        if series.load_curve:
            days[day] = [to_json(p) for p in found]
            complete[day] = settled or sum(p.minutes for p in found) >= day_minutes(day)
        else:
            days[day] = to_json(found[0]) if found else None
            complete[day] = settled
    return days, complete
