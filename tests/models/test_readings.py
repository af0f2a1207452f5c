"""Sums and off-peak splits of cached readings (pure, no cache needed)."""

from datetime import UTC, date, datetime, time, timedelta

from models.calendar import PARIS
from models.offpeak import parse_offpeak_hours
from models.readings import Balance, daily_balance, daily_wh, kwh, load_curve_points, local_start, split_offpeak, sum_days


def curve_of(day: date, watts: int = 1000) -> list[dict]:
    start = datetime.combine(day, time(0), PARIS)
    return [{"start": (start + timedelta(minutes=30 * i)).isoformat(), "minutes": 30, "watts": watts,
             "wh": watts * 30 // 60} for i in range(48)]


def test_offpeak_split_of_a_known_load_curve():
    ranges = parse_offpeak_hours("HC (22H00-6H00)")
    curve = curve_of(date(2025, 3, 13), 1000)  # 48 × 500 Wh
    curve[0]["wh"] = 1500  # 00:00–00:30 is off-peak
    curve[30]["wh"] = 700  # 15:00–15:30 is peak
    off, peak = split_offpeak(curve, ranges)
    assert (off, peak) == (16 * 500 + 1000, 32 * 500 + 200)
    # An hour-long interval across 22:00 is shared pro rata.
    start = datetime(2025, 3, 13, 21, 30, tzinfo=PARIS).isoformat()
    assert split_offpeak([{"start": start, "minutes": 60, "wh": 1200}], ranges) == (600.0, 600.0)
    # Interval starts in UTC still count by Paris wall clock.
    utc_start = datetime(2025, 3, 13, 21, 0, tzinfo=UTC).isoformat()  # 22:00 Paris
    assert split_offpeak([{"start": utc_start, "minutes": 30, "wh": 400}], ranges) == (400.0, 0.0)


def test_a_single_rate_contract_is_all_peak():
    assert split_offpeak(curve_of(date(2025, 3, 13)), ()) == (0.0, 48 * 500.0)


def test_kwh_keeps_every_wh():
    assert (kwh(12345), kwh(1), kwh(None)) == (12.345, 0.001, None)


def test_daily_values_and_gaps():
    assert daily_wh({"day": "2025-03-13", "value": 8000}) == 8000.0
    assert daily_wh({"day": "2025-03-13", "value": None}) is None
    assert daily_wh(None) is None


def test_sums_count_the_days_without_value():
    days = {date(2025, 3, 1): {"value": 1000}, date(2025, 3, 2): None, date(2025, 3, 4): {"value": 500}}
    assert sum_days(days, date(2025, 3, 1), date(2025, 3, 4)) == (1500.0, 2)
    assert sum_days(days, date(2025, 3, 2), date(2025, 3, 3)) == (None, 2)  # nothing known is not 0


def test_load_curve_points_are_in_time_order_across_the_fall_back_night():
    day = date(2026, 10, 25)
    first = datetime.combine(day, time(0), PARIS).astimezone(UTC)
    points = [{"start": (first + timedelta(minutes=30 * i)).astimezone(PARIS).isoformat(), "minutes": 30,
               "watts": i, "wh": i} for i in range(50)]  # 25 hours
    later = {"start": datetime.combine(day + timedelta(days=1), time(0), PARIS).isoformat(), "minutes": 30,
             "watts": 99, "wh": 99}
    merged = load_curve_points({day + timedelta(days=1): [later], day: points, day - timedelta(days=1): None})
    assert [p["watts"] for p in merged] == list(range(50)) + [99]
    # The wall clock shows 02:00 and 02:30 twice: first at +02:00, then at +01:00.
    assert [local_start(p).strftime("%H:%M%z") for p in merged[4:8]] == ["02:00+0200", "02:30+0200",
                                                                          "02:00+0100", "02:30+0100"]


def test_balance_over_the_days_both_are_known():
    totals = daily_balance([1000.0, 2000.0, None, 500.0], [1500.0, 500.0, 800.0, None])
    assert (totals.days, totals.consumed, totals.produced) == (2, 3000.0, 2000.0)
    assert (totals.surplus, totals.deficit) == (500.0, 1500.0)
    assert daily_balance([None], [1.0]) == daily_balance([], []) == Balance(0, None, None, None, None)


def test_daily_totals_answer_what_sum_days_answers():
    from datetime import timedelta

    from models.readings import DailyTotals

    first = date(2025, 1, 1)
    days = {first + timedelta(days=i): ({"day": "-", "value": 100 * i} if i % 7 else None) for i in range(400)}
    del days[first + timedelta(days=30)]  # absent altogether, not only a known gap
    totals = DailyTotals(days, first + timedelta(days=10), first + timedelta(days=380))
    spans = [(0, 5), (10, 10), (10, 380), (25, 40), (370, 399), (200, 100), (7, 7), (-5, 20)]
    for a, b in spans:
        lo, hi = first + timedelta(days=a), first + timedelta(days=b)
        inside = {d: v for d, v in days.items() if first + timedelta(days=10) <= d <= first + timedelta(days=380)}
        assert totals.sum(lo, hi) == sum_days(inside, lo, hi), (a, b)
