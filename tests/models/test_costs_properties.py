"""The cost engine on generated curves, offers and calendars: what must hold whatever the data.

- Every W·min read lands in exactly one bucket or one "unknown" reason: none lost, none twice.
- Months add up to the total, and a period priced in two parts adds up to the whole.
- On half-hour data, the engine agrees with a naive classifier written from other project
  code (`models.offpeak.is_offpeak`, `models.calendar.tempo_day`) point by point.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.calendar import PARIS, tempo_day
from models.costs import (
    BUCKETS, EJP_MONTHS, Calendars, Consumption, CurvePoint, FixedPer, MarkedDays, Meter, OfferCost, OfferSpec, OffPeakHistory,
    Option, PricePeriod, Summary, cost_offer,
)
from models.grid.tempo import TEMPO_COLOURS
from models.offpeak import OffPeakRange, is_offpeak

# Busy CI machines: no per-example deadline (a timing assertion would be a flaky test).
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Periods around both daylight-saving changes, a leap day, a new year and Tempo's red season.
STARTS = [date(2026, 3, 27), date(2026, 10, 23), date(2024, 2, 27), date(2025, 12, 29), date(2026, 1, 19)]


def curve(rnd, first: date, last: date, half_hours_only: bool) -> list[CurvePoint]:
    """Readings over [first − 1 day, last + 1 day] in real time, with gaps and mixed lengths."""
    t = datetime(first.year, first.month, first.day, tzinfo=PARIS).astimezone(UTC) - timedelta(days=1)
    stop = datetime(last.year, last.month, last.day, tzinfo=PARIS).astimezone(UTC) + timedelta(days=2)
    gap_rate = rnd.choice([0, 0.05, 0.5])
    points = []
    while t < stop:
        minutes = 30 if half_hours_only else rnd.choice([10, 15, 30, 30, 30, 60])
        t += timedelta(minutes=minutes)
        if rnd.random() >= gap_rate:
            points.append(CurvePoint(t.astimezone(PARIS), minutes, rnd.randrange(0, 12_000)))
    return points


def price(rnd) -> Decimal:
    return Decimal(rnd.randrange(1, 10_000)) / 10_000


def offpeak_ranges(rnd, step: int) -> tuple[OffPeakRange, ...]:
    """One to three ranges on multiples of `step` minutes, some across midnight, some overlapping."""
    out = set()
    for _ in range(rnd.randint(1, 3)):
        a, b = rnd.sample(range(0, 1440, step), 2)
        out.add(OffPeakRange(a, b))
    return tuple(sorted(out))


def offer(rnd, option: Option, first: date, last: date, step: int) -> OfferSpec:
    """Two price periods, maybe starting inside the period and maybe with unpriced days between."""
    start = first - timedelta(days=rnd.randint(-1, 2))
    cut = start + timedelta(days=rnd.randint(1, (last - first).days + 3))  # [start, cut)
    gap = rnd.randint(0, 2)
    periods = tuple(PricePeriod(6, valid_from, valid_to, Decimal(rnd.randrange(0, 60_000)) / 100,
                                rnd.choice(list(FixedPer)), {b: price(rnd) for b in BUCKETS[option]})
                    for valid_from, valid_to in ((start, cut), (cut + timedelta(days=gap), None)))
    kw = {}
    if option in (Option.ZEN_FLEX, Option.HC_NUIT_WEEKEND) or (option in (Option.HC_HP, Option.SEASONAL)
                                                                and rnd.random() < 0.3):
        kw = {"offpeak_source": "offer", "offpeak_ranges": offpeak_ranges(rnd, step)}
    if option in (Option.BASE_WEEKEND, Option.HC_WEEKEND, Option.HC_NUIT_WEEKEND):
        kw["holidays_as_weekend"] = rnd.random() < 0.5
    return OfferSpec("generated", "générée", option, periods, **kw)


def meter(rnd, first: date, step: int) -> Meter:
    """Off-peak schedules changing over the period, maybe single-rate, maybe unknown at first."""
    offsets = rnd.sample(range(-2, 5), rnd.randint(1, 3))
    entries = [(first + timedelta(days=d), offpeak_ranges(rnd, step) if rnd.random() < 0.8 else ()) for d in offsets]
    return Meter(6, OffPeakHistory(tuple(entries), assume_earliest=rnd.random() < 0.5))


def calendars(rnd, first: date, last: date) -> Calendars:
    """Mostly known calendars with a few holes."""
    days = [first + timedelta(days=i) for i in range(-2, (last - first).days + 3)]

    def marked(months=range(1, 13)):
        lo, hi = rnd.choice(days[:3]), rnd.choice(days[-3:])
        return MarkedDays.complete({d for d in days if lo <= d <= hi and d.month in months and rnd.random() < 0.3},
                                   lo, hi)

    tempo = {d: rnd.choice(TEMPO_COLOURS) for d in days if rnd.random() < 0.9}
    return Calendars(tempo=tempo, ejp=marked(EJP_MONTHS), sobriete=marked(), holidays=marked())


@st.composite
def cases(draw, option: Option | None = None, half_hours_only: bool = False):
    first = draw(st.sampled_from(STARTS))
    last = first + timedelta(days=draw(st.integers(0, 5)))
    option = option or draw(st.sampled_from(list(Option)))
    # One seed, not hypothesis draws, for the bulk of the data: a curve is hundreds of values
    # and would make every example "large"; the failing case is printed whole anyway.
    rnd = random.Random(draw(st.integers(0, 2**32)))
    # On half-hour data with half-hour ranges, each interval goes whole to one bucket; with
    # quarter-hour ranges some are shared pro rata (tested by hand in test_costs.py).
    step = 30 if half_hours_only else 15
    return (first, last, curve(rnd, first, last, half_hours_only), offer(rnd, option, first, last, step),
            meter(rnd, first, step), calendars(rnd, first, last))


def read_per_day(points, first, last) -> dict[date, int]:
    """W·min per Paris day of each reading's start, counted the plain way."""
    out = {first + timedelta(days=i): 0 for i in range((last - first).days + 1)}
    for p in points:
        day = (p.end.astimezone(UTC) - timedelta(minutes=p.minutes)).astimezone(PARIS).date()
        if day in out:
            out[day] += p.watts * p.minutes
    return out


@PROPERTY
@given(cases())
def test_every_watt_minute_lands_once(case):
    first, last, points, offer, meter, cals = case
    result = cost_offer(Consumption.from_curve(points, first, last), offer, meter, cals)
    if not isinstance(result, OfferCost):
        return  # e.g. a meter without off-peak hours for an HC offer: nothing to sum
    expected = read_per_day(points, first, last)
    assert {d.day: d.energy_wmin for d in result.days} == expected
    assert result.total.energy_wmin == sum(expected.values())
    for day in result.days:
        assert set(day.energy) <= set(BUCKETS[offer.option])
        assert all(v >= 0 for v in day.energy.values()) and all(v >= 0 for v in day.unknown.values())
        assert all(a >= 0 for a in day.amounts.values())
        assert (day.fixed is None) == (day.period is None)
        assert day.unpriced_wmin == sum(day.unknown.values()) + (0 if day.period else sum(day.energy.values()))
    assert result.total.days == (last - first).days + 1


@PROPERTY
@given(cases(), st.data())
def test_splitting_a_period_and_adding_equals_the_whole(case, data):
    first, last, points, offer, meter, cals = case
    whole = cost_offer(Consumption.from_curve(points, first, last), offer, meter, cals)
    if not isinstance(whole, OfferCost):
        return
    assert reduce(Summary.__add__, whole.months) == whole.total
    if first == last:
        return
    cut = first + timedelta(days=data.draw(st.integers(0, (last - first).days - 1)))
    head = cost_offer(Consumption.from_curve(points, first, cut), offer, meter, cals)
    tail = cost_offer(Consumption.from_curve(points, cut + timedelta(days=1), last), offer, meter, cals)
    assert head.days + tail.days == whole.days
    assert head.total + tail.total == whole.total
    assert whole.total.total_eur == head.total.total_eur + tail.total.total_eur


def naive_bucket(offer: OfferSpec, start: datetime, meter: Meter, cals: Calendars) -> str | None:
    """The bucket of a half-hour by its start, written independently of the engine's rules."""
    if offer.option is Option.HC_HP:
        schedule = offer.offpeak_ranges or meter.offpeak.at(start.date())
        if not schedule:
            return None
        return "hc" if is_offpeak(schedule, start) else "hp"
    colour = cals.tempo.get(tempo_day(start))
    if colour is None:
        return None
    return f"tempo_{colour.lower()}_{'hp' if 6 <= start.hour < 22 else 'hc'}"


@PROPERTY
@given(st.sampled_from([Option.HC_HP, Option.TEMPO]).flatmap(lambda o: cases(o, half_hours_only=True)))
def test_half_hours_agree_with_a_naive_classifier_by_start(case):
    first, last, points, offer, meter, cals = case
    result = cost_offer(Consumption.from_curve(points, first, last), offer, meter, cals)
    if not isinstance(result, OfferCost):
        return
    expected: dict[date, dict[str, int]] = {}
    for p in points:
        start = (p.end.astimezone(UTC) - timedelta(minutes=30)).astimezone(PARIS)
        if first <= start.date() <= last:
            bucket = naive_bucket(offer, start, meter, cals)
            if bucket is not None:
                day = expected.setdefault(start.date(), {})
                day[bucket] = day.get(bucket, 0) + p.watts * 30
    for day in result.days:
        assert {k: v for k, v in day.energy.items() if v} == {k: v for k, v in expected.get(day.day, {}).items() if v}
