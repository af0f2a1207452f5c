"""The engine's results as JSON values and back (`models.costs.to_dict` / `from_dict`): what the cache stores.

Each case goes through `json.dumps`/`json.loads`, as the cache does, and must come back equal, to the
micro-euro and the W·min. Prices are illustrative.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from models.calendar import PARIS
from models.costs import (
    Assumed, Blocked, Calendars, Comparison, Consumption, CurvePoint, DayCost, FixedPer, MarkedDays, Meter,
    NotComputable, OfferCost, OfferSpec, OffPeakHistory, Option, PricePeriod, Summary, Unpriced, compare, cost_offer,
    cost_offers, from_dict, to_dict,
)
from models.offpeak import parse_offpeak_hours

D = Decimal
FIRST, LAST = date(2026, 1, 25), date(2026, 2, 5)  # a price change on 1 February inside
HC = parse_offpeak_hours("HC (1H30-8H00;12H30-14H00)")


def curve(first: date, last: date, skip: set[date] = frozenset()) -> list[CurvePoint]:
    t = datetime(first.year, first.month, first.day, tzinfo=PARIS).astimezone(UTC)
    stop = datetime(last.year, last.month, last.day, tzinfo=PARIS).astimezone(UTC) + timedelta(days=1)
    points = []
    while t < stop:
        t += timedelta(minutes=30)
        local = t.astimezone(PARIS)
        if (local - timedelta(minutes=30)).date() not in skip:
            points.append(CurvePoint(local, 30, 300 + 37 * local.hour + local.minute))
    return points


def periods(prices_before: dict[str, str], prices_after: dict[str, str], fixed=("15.47", "15.59")):
    return (PricePeriod(6, date(2025, 8, 1), date(2026, 2, 1), D(fixed[0]), FixedPer.MONTH,
                        {k: D(v) for k, v in prices_before.items()}, ref=11, source="a; b", status="two_sources_agree"),
            PricePeriod(6, date(2026, 2, 1), None, D(fixed[1]), FixedPer.YEAR,
                        {k: D(v) for k, v in prices_after.items()}, ref="x12", source="", status="household"))


TEMPO = {"tempo_blue_hc": "0.1232", "tempo_blue_hp": "0.1494", "tempo_white_hc": "0.1391",
         "tempo_white_hp": "0.1730", "tempo_red_hc": "0.1460", "tempo_red_hp": "0.6468"}
OFFERS = [
    OfferSpec("1", "Base", Option.BASE, periods({"base": "0.1952"}, {"base": "0.19266"})),
    OfferSpec("2", "HC", Option.HC_HP, periods({"hc": "0.1635", "hp": "0.2081"}, {"hc": "0.1578", "hp": "0.2065"})),
    OfferSpec("3", "Tempo", Option.TEMPO, periods(TEMPO, TEMPO)),
    # Priced from 1 February only: the days before are "prix inconnu".
    OfferSpec("4", "Zen Week-End HC", Option.HC_WEEKEND,
              (PricePeriod(6, date(2026, 2, 1), None, D("18.91"), FixedPer.MONTH,
                           {"hp_weekday": D("0.2153"), "hc_weekday": D("0.1618"), "weekend_all_day": D("0.1618")}),),
              holidays_as_weekend=True),
    OfferSpec("5", "Zen Flex", Option.ZEN_FLEX,
              periods(*[{"eco_hp": "0.2091", "eco_hc": "0.1519", "sobriete_hp": "0.7253", "sobriete_hc": "0.2091"}] * 2),
              offpeak_source="offer", offpeak_ranges=parse_offpeak_hours("HC (0H00-8H00;13H00-18H00;20H00-24H00)")),
    OfferSpec("6", "Saisonnière", Option.SEASONAL,
              periods(*[{"hc_winter": "0.18", "hp_winter": "0.25", "hc_summer": "0.12", "hp_summer": "0.16"}] * 2),
              winter_months=frozenset({12, 1, 2})),
    OfferSpec("7", "Autre puissance", Option.BASE,
              (PricePeriod(9, date(2025, 1, 1), None, D("19"), FixedPer.MONTH, {"base": D("0.2")}),)),
]
# Off-peak hours first seen on 1 February: the days before are priced on them, flagged as assumed.
METER = Meter(6, OffPeakHistory(((date(2026, 2, 1), HC),), assume_earliest=True))
CALENDARS = Calendars(
    tempo={d: c for d, c in ((FIRST - timedelta(days=1), "BLUE"), (FIRST, "WHITE"), (FIRST + timedelta(days=1), "RED"),
                             (date(2026, 2, 3), "BLUE"))},  # the other days' colours are unknown
    sobriete=MarkedDays.complete({date(2026, 2, 2)}, date(2026, 1, 28), LAST))


def round_trip(result, **kw):
    text = json.dumps(to_dict(result, **kw))  # plain JSON: no Decimal, date or mapping proxy left
    return from_dict(json.loads(text))


@pytest.fixture(scope="module")
def results():
    consumption = Consumption.from_curve(curve(FIRST, LAST, skip={date(2026, 1, 30)}), FIRST, LAST)
    return cost_offers(consumption, OFFERS, METER, CALENDARS)


def test_every_kind_of_result_comes_back_equal(results):
    costs = [r for r in results if isinstance(r, OfferCost)]
    assert len(costs) == 6 and isinstance(results[-1], NotComputable)
    # The cases are there: prices changing, unknown Tempo colours and Sobriété days, prix inconnu, assumed HC.
    tempo, zen = costs[2], costs[3]
    assert Unpriced.TEMPO_UNKNOWN in tempo.total.unknown_days and Unpriced.SOBRIETE_UNKNOWN in costs[4].total.unknown
    assert Unpriced.PRICE_UNKNOWN in zen.total.unknown_days and Assumed.OFFPEAK_ASSUMED in costs[1].total.assumed_days
    assert len(costs[0].total.periods) == 2 and costs[0].total.missing_minutes == 1440
    for result in results:
        back = round_trip(result)
        assert back == result and type(back) is type(result)
    comparison = compare(results)
    assert comparison.ranked and comparison.not_computable
    assert round_trip(comparison) == comparison
    for cost in costs:
        assert round_trip(cost.total) == cost.total
        for day in cost.days:
            assert round_trip(day) == day
        assert round_trip(cost.offer) == cost.offer
        for period in cost.offer.periods:
            assert round_trip(period) == period


def test_money_travels_as_decimal_text_to_the_micro_euro(results):
    base = results[0]
    data = to_dict(base)
    assert data["format"] == 1 and data["type"] == "offer_cost"
    first_day = data["days"][0]
    assert first_day["fixed"] == str(base.days[0].fixed) and "." in first_day["fixed"]
    assert first_day["period"] == 0 and data["days"][-1]["period"] == 1  # by index among the offer's periods
    back = round_trip(base)
    assert back.total.total_eur == base.total.total_eur
    assert back.over(d.day for d in base.days[:3]) == base.over(d.day for d in base.days[:3])


def test_without_days_the_months_and_total_stay(results):
    hc = results[1]
    back = round_trip(hc, days=False)
    assert back.days == () and back.months == hc.months and back.total == hc.total and back.offer == hc.offer
    assert len(json.dumps(to_dict(hc, days=False))) < len(json.dumps(to_dict(hc))) / 2


def test_a_not_computable_offer_keeps_its_reason():
    nc = cost_offer(Consumption.from_daily({FIRST: 1000}, FIRST, FIRST), OFFERS[1], METER, CALENDARS)
    assert isinstance(nc, NotComputable) and nc.reason is Blocked.NO_LOAD_CURVE
    back = round_trip(nc)
    assert back == nc and back.explanation == nc.explanation


def test_an_empty_comparison_and_summary_come_back():
    empty = Comparison((), (), ())
    assert round_trip(empty) == empty
    nothing = Summary(None, None, 0, 0, 0, {}, {}, {}, D(0), 0, {}, {}, ())
    assert round_trip(nothing) == nothing


@pytest.mark.parametrize("data", [{}, {"format": 2, "type": "summary"}, {"format": 1, "type": "bill"}, [], "x"])
def test_an_unknown_format_or_type_is_refused(data):
    with pytest.raises(ValueError):
        from_dict(data)


def test_only_engine_results_are_turned_into_dicts():
    with pytest.raises(TypeError):
        to_dict({"day": "2026-01-01"})


def test_a_standalone_day_carries_its_price_period(results):
    day: DayCost = results[0].days[-1]
    data = to_dict(day)
    assert data["period"]["valid_from"] == "2026-02-01" and data["period"]["fixed_per"] == "year"
    assert round_trip(day).period == day.period
