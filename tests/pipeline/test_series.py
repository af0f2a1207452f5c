"""History limits, window planning and day completeness."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.clients.enedis import DailyValue, LoadPoint
from models.series import SERIES
from pipeline.series import group_by_day, history_start, months_before, plan_windows, windows_for_days

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 24)


@pytest.mark.parametrize("day, months, expected", [
    (date(2026, 11, 24), 24, date(2024, 11, 24)),
    (date(2026, 3, 31), 1, date(2026, 2, 28)),
    (date(2028, 3, 31), 1, date(2028, 2, 29)),
    (date(2026, 1, 15), 36, date(2023, 1, 15)),
])
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected


def test_history_limits_and_activation():
    lc, daily = SERIES["load_curve"], SERIES["daily_consumption"]
    assert history_start(lc, TODAY) == date(2024, 11, 10)  # 24 months + 15 days, one day of margin
    assert history_start(daily, TODAY) == date(2023, 11, 10)
    assert history_start(daily, TODAY, activation=date(2025, 1, 1)) == date(2025, 1, 1)


def test_windows_cover_history_without_overlap_newest_first():
    lc = SERIES["load_curve"]
    first = history_start(lc, TODAY)
    windows = plan_windows(lc, first, TODAY)
    assert windows[0][1] == TODAY and windows[-1][0] == first
    assert all((e - s).days <= 7 for s, e in windows)
    assert all(windows[i][0] == windows[i + 1][1] for i in range(len(windows) - 1))
    assert sum((e - s).days for s, e in windows) == (TODAY - first).days
    # 36 months + 15 days is 1,110 days: four windows of at most 365.
    assert len(plan_windows(SERIES["daily_consumption"], history_start(SERIES["daily_consumption"], TODAY), TODAY)) == 4


def points(day: date, count: int) -> list[LoadPoint]:
    start = datetime.combine(day, datetime.min.time(), PARIS)
    return [LoadPoint(start + timedelta(minutes=30 * i), 30, 1000, 500) for i in range(count)]


def test_load_curve_day_is_final_when_complete_or_settled():
    lc = SERIES["load_curve"]
    yesterday, old, gap = TODAY - timedelta(1), TODAY - timedelta(10), TODAY - timedelta(9)
    items = points(yesterday, 48) + points(TODAY - timedelta(2), 20) + points(old, 40)
    days, complete = group_by_day(lc, items, TODAY - timedelta(10), TODAY, TODAY)
    assert complete[yesterday] is True  # all 48 half-hours
    assert complete[TODAY - timedelta(2)] is False  # partial and recent: ask again
    assert complete[old] is True and len(days[old]) == 40  # settled: what Enedis has is final
    assert days[gap] == [] and complete[gap] is True  # settled and empty: a known gap
    assert TODAY - timedelta(3) in days  # settled (D-3)
    assert all(p["start"].startswith(str(yesterday)) for p in days[yesterday])


def test_recent_daily_values_stay_partial():
    daily = SERIES["daily_consumption"]
    items = [DailyValue(TODAY - timedelta(d), 10000 + d) for d in (1, 2, 5)]
    days, complete = group_by_day(daily, items, TODAY - timedelta(6), TODAY, TODAY)
    assert days[TODAY - timedelta(5)] == {"day": str(TODAY - timedelta(5)), "value": 10005}
    assert complete[TODAY - timedelta(5)] and not complete[TODAY - timedelta(1)] and not complete[TODAY - timedelta(2)]
    assert days[TODAY - timedelta(4)] is None and complete[TODAY - timedelta(4)]  # settled gap


def test_windows_cover_the_runs_of_missing_days_and_nothing_between():
    curve = SERIES["load_curve"]
    d = date(2026, 3, 1)
    missing = [d - timedelta(days=300), d - timedelta(days=299)] + [d + timedelta(days=i) for i in range(9)]
    assert windows_for_days(curve, missing) == [
        (d + timedelta(days=2), d + timedelta(days=9)),  # newest first, 7 days at most
        (d, d + timedelta(days=2)),
        (d - timedelta(days=300), d - timedelta(days=298)),
    ]
    assert windows_for_days(curve, []) == []
    assert windows_for_days(SERIES["daily_consumption"], [d, d]) == [(d, d + timedelta(days=1))]
