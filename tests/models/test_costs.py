"""The cost engine on hand-computed cases: each boundary, each option, each coverage item.

Prices are EDF Tarif Bleu 6 kVA TTC as listed in ../shared/reference/tariffs/edf-tarif-bleu.json
(tariffs-and-admin.md §2), except where a test says its prices are illustrative. Energy is
in W·min in the engine (60,000 W·min = 1 kWh); the comments give kWh.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from models.calendar import PARIS
from models.costs import (
    Assumed, Blocked, Calendars, Consumption, CurvePoint, DayCost, FixedPer, MarkedDays, Meter, NotComputable, OfferCost, OfferSpec,
    OffPeakHistory, Option, PricePeriod, Summary, Unpriced, compare, cost_offer, date_spans, fixed_for_day,
    french_public_holidays, kwh, points_from_cache, summarise, to_cents,
)
from models.offpeak import parse_offpeak_hours

D = Decimal
KWH = 60_000  # W·min
HC_22_6 = parse_offpeak_hours("HC (22H00-6H00)")


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """An aware Paris wall-clock time (hh may be 24: midnight of the next day)."""
    return datetime(day.year, day.month, day.day, tzinfo=PARIS) + timedelta(hours=hh, minutes=mm)


def point(end: datetime, watts: int, minutes: int = 30) -> CurvePoint:
    """One reading labelled, as Enedis labels it, by the END of its interval."""
    return CurvePoint(end=end, minutes=minutes, watts=watts)


def whole_day(day: date, watts: int = 1000) -> list[CurvePoint]:
    """Every half-hour of a Paris day at constant power, stepping in real time (46/48/50 points)."""
    t = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), PARIS).astimezone(UTC)
    points = []
    while t < midnight:
        t += timedelta(minutes=30)
        points.append(point(t.astimezone(PARIS), watts))
    return points


def period(prices: dict[str, str], fixed: str = "365", per: str = "year", kva: int = 6,
           valid_from: date = date(2020, 1, 1), valid_to: date | None = None) -> PricePeriod:
    # 365 € a year is exactly 1 € a day in a 365-day year: keeps the fixed part out of the way.
    return PricePeriod(kva, valid_from, valid_to, D(fixed), FixedPer(per), {k: D(v) for k, v in prices.items()})


BASE_2025_08 = {"base": "0.1952"}
HC_2025_08 = {"hc": "0.1635", "hp": "0.2081"}
TEMPO_2025_08 = {"tempo_blue_hc": "0.1232", "tempo_blue_hp": "0.1494", "tempo_white_hc": "0.1391",
                 "tempo_white_hp": "0.1730", "tempo_red_hc": "0.1460", "tempo_red_hp": "0.6468"}
EJP_2026 = {"ejp_normal": "0.1781", "ejp_peak": "0.3440"}
ZEN_WE_2026 = {"base_weekday": "0.2038", "base_weekend": "0.1538"}
ZEN_WE_HC_2026 = {"hp_weekday": "0.2153", "hc_weekday": "0.1618", "weekend_all_day": "0.1618"}
ZEN_FLEX_2026 = {"eco_hp": "0.2091", "eco_hc": "0.1519", "sobriete_hp": "0.7253", "sobriete_hc": "0.2091"}
ZEN_FLEX_HC = parse_offpeak_hours("HC (0H00-8H00;13H00-18H00;20H00-24H00)")  # tariffs-and-admin.md §2.5


def offer(option: Option, prices: dict[str, str], **kw) -> OfferSpec:
    periods = kw.pop("periods", None) or (period(prices),)
    return OfferSpec(key=option.lower(), name=option.value, option=option, periods=periods, **kw)


METER = Meter(6, OffPeakHistory(((date(2020, 1, 1), HC_22_6),)))


def one_day(points, day, offer_, meter=METER, calendars=Calendars()):
    result = cost_offer(Consumption.from_curve(points, day, day), offer_, meter, calendars)
    assert isinstance(result, OfferCost), result
    (cost,) = result.days
    return cost


# --- The interval is classified by its start ---------------------------------------------

def test_point_labelled_22h00_is_peak_and_point_labelled_06h00_is_off_peak():
    day = date(2025, 9, 10)  # a Wednesday
    points = [point(at(day, 22), 1000),          # 21:30–22:00: HP (MED made it HC)
              point(at(day, 22, 30), 2000),      # 22:00–22:30: HC
              point(at(day, 6), 4000),           # 05:30–06:00: HC (MED made it HP)
              point(at(day, 6, 30), 8000)]       # 06:00–06:30: HP
    cost = one_day(points, day, offer(Option.HC_HP, HC_2025_08))
    assert cost.energy == {"hc": (2000 + 4000) * 30, "hp": (1000 + 8000) * 30}  # 3 kWh, 4.5 kWh
    assert cost.amounts == {"hc": D("0.490500"), "hp": D("0.936450")}  # 3 × 0.1635, 4.5 × 0.2081


def test_point_labelled_midnight_belongs_to_the_day_before():
    friday, saturday = date(2025, 9, 12), date(2025, 9, 13)
    points = [point(at(saturday, 0), 1000),  # Friday 23:30–24:00, labelled Saturday 00:00
              point(at(saturday, 0, 30), 3000)]  # Saturday 00:00–00:30
    zen = offer(Option.BASE_WEEKEND, ZEN_WE_2026)
    result = cost_offer(Consumption.from_curve(points, friday, saturday), zen, METER, Calendars())
    fri, sat = result.days
    assert fri.energy == {"base_weekday": 1000 * 30} and fri.amounts == {"base_weekday": D("0.101900")}
    assert sat.energy == {"base_weekend": 3000 * 30} and sat.amounts == {"base_weekend": D("0.230700")}
    assert fri.missing_minutes == 1440 - 30 and sat.missing_minutes == 1440 - 30


def test_an_interval_across_a_boundary_is_shared_by_its_minutes():
    day = date(2025, 9, 10)
    meter = Meter(6, OffPeakHistory(((date(2020, 1, 1), parse_offpeak_hours("HC (22H30-6H30)")),)))
    # One 60-minute reading 22:00–23:00 at 1200 W: 30 minutes on each side of 22:30.
    cost = one_day([point(at(day, 23), 1200, minutes=60)], day, offer(Option.HC_HP, HC_2025_08), meter)
    assert cost.energy == {"hc": 1200 * 30, "hp": 1200 * 30}


# --- Off-peak hours: minutes, several ranges, across midnight -----------------------------

def test_off_peak_range_with_minutes_across_midnight():
    day = date(2025, 9, 10)
    meter = Meter(6, OffPeakHistory(((date(2020, 1, 1), parse_offpeak_hours("HC (23h30-7h30)")),)))
    points = [point(at(day, 23, 30), 1000),  # 23:00–23:30 HP (MED: 23 h counted as HC)
              point(at(day, 24), 2000),      # 23:30–24:00 HC
              point(at(day, 7, 30), 4000),   # 07:00–07:30 HC (MED: 7 h counted as HP)
              point(at(day, 8), 8000)]       # 07:30–08:00 HP
    cost = one_day(points, day, offer(Option.HC_HP, HC_2025_08), meter)
    assert cost.energy == {"hc": 6000 * 30, "hp": 9000 * 30}


def test_every_off_peak_range_counts():
    day = date(2025, 9, 10)
    meter = Meter(6, OffPeakHistory(((date(2020, 1, 1), parse_offpeak_hours("HC (1H30-8H00;12H30-14H00)")),)))
    cost = one_day(whole_day(day, 1000), day, offer(Option.HC_HP, HC_2025_08), meter)
    # 6 h 30 + 1 h 30 = 8 h of HC at 1 kW (MED read the first range only, and as 1–8 h).
    assert cost.energy == {"hc": 8 * KWH, "hp": 16 * KWH}
    assert cost.amounts == {"hc": D("1.308000"), "hp": D("3.329600")}


def test_the_schedule_of_each_day_applies():
    meter = Meter(6, OffPeakHistory(((date(2025, 9, 10), HC_22_6),
                                     (date(2025, 9, 12), parse_offpeak_hours("HC (2H00-7H00;14H00-17H00)")),
                                     (date(2025, 9, 14), ()))))  # became single-rate
    points = [p for d in range(9, 15) for p in whole_day(date(2025, 9, d), 1000)]
    result = cost_offer(Consumption.from_curve(points, date(2025, 9, 9), date(2025, 9, 14)),
                        offer(Option.HC_HP, HC_2025_08), meter, Calendars())
    by_day = {d.day.day: d for d in result.days}
    assert by_day[9].energy == {} and by_day[9].unknown == {Unpriced.OFFPEAK_UNKNOWN: 24 * KWH}
    assert by_day[10].energy == by_day[11].energy == {"hc": 8 * KWH, "hp": 16 * KWH}
    assert by_day[12].energy == by_day[13].energy == {"hc": 8 * KWH, "hp": 16 * KWH}
    assert by_day[14].unknown == {Unpriced.NO_OFFPEAK: 24 * KWH}
    # The 2–7 h + 14–17 h schedule: 06:00–07:00 is HC, 22:00–24:00 is HP.
    evening = [point(at(date(2025, 9, 12), 6, 30), 1000), point(at(date(2025, 9, 12), 23), 2000)]
    assert one_day(evening, date(2025, 9, 12), offer(Option.HC_HP, HC_2025_08), meter).energy == {
        "hc": 1000 * 30, "hp": 2000 * 30}
    assert result.total.unknown_days == {Unpriced.OFFPEAK_UNKNOWN: (date(2025, 9, 9),),
                                         Unpriced.NO_OFFPEAK: (date(2025, 9, 14),)}


def test_earliest_schedule_stretched_back_only_when_asked_and_said():
    first_seen = date(2025, 9, 12)
    history = ((first_seen, HC_22_6),)
    points = [p for d in (11, 12) for p in whole_day(date(2025, 9, d), 1000)]
    consumption = Consumption.from_curve(points, date(2025, 9, 11), date(2025, 9, 12))
    strict = cost_offer(consumption, offer(Option.HC_HP, HC_2025_08), Meter(6, OffPeakHistory(history)), Calendars())
    assert strict.days[0].unknown == {Unpriced.OFFPEAK_UNKNOWN: 24 * KWH} and strict.days[0].assumed == frozenset()
    meter = Meter(6, OffPeakHistory(history, assume_earliest=True))
    assumed = cost_offer(consumption, offer(Option.HC_HP, HC_2025_08), meter, Calendars())
    before, seen = assumed.days
    assert before.energy == seen.energy == {"hc": 8 * KWH, "hp": 16 * KWH}
    assert before.assumed == {Assumed.OFFPEAK_ASSUMED} and seen.assumed == frozenset()
    assert assumed.total.assumed_days == {Assumed.OFFPEAK_ASSUMED: (date(2025, 9, 11),)}
    assert assumed.total.unknown_days == {} and before.fully_priced
    # Offers with their own hours rest on no assumption.
    flex = offer(Option.ZEN_FLEX, ZEN_FLEX_2026, offpeak_source="offer", offpeak_ranges=ZEN_FLEX_HC)
    calendars = Calendars(sobriete=MarkedDays.complete(set(), date(2025, 9, 1), date(2025, 9, 30)))
    assert cost_offer(consumption, flex, meter, calendars).total.assumed_days == {}


# --- Tempo: the 06:00 boundary, HC 22:00–06:00 --------------------------------------------

def test_tempo_day_runs_from_six_to_six_with_off_peak_from_ten_pm():
    d0, d1 = date(2026, 1, 14), date(2026, 1, 15)
    calendars = Calendars(tempo={date(2026, 1, 13): "WHITE", d0: "BLUE", d1: "RED"})
    # The meter's own HC are 23:00–07:00: Tempo's are 22:00–06:00 all the same (MED used the meter's).
    meter = Meter(6, OffPeakHistory(((date(2020, 1, 1), parse_offpeak_hours("HC (23H00-7H00)")),)))
    points = [point(at(d0, 0, 30), 1000),   # d0 00:00–00:30: Tempo day of the 13th, white HC
              point(at(d1, 0, 30), 2000),   # d1 00:00–00:30: Tempo day d0, blue HC (MED: red)
              point(at(d1, 6), 3000),       # d1 05:30–06:00: still blue HC
              point(at(d1, 6, 30), 4000),   # d1 06:00–06:30: red HP
              point(at(d1, 22), 5000),      # d1 21:30–22:00: red HP
              point(at(d1, 22, 30), 6000)]  # d1 22:00–22:30: red HC
    result = cost_offer(Consumption.from_curve(points, d0, d1), offer(Option.TEMPO, TEMPO_2025_08), meter, calendars)
    first, second = result.days
    assert first.energy == {"tempo_white_hc": 1000 * 30, "tempo_blue_hp": 0, "tempo_blue_hc": 0}
    assert second.energy == {"tempo_blue_hc": 5000 * 30, "tempo_red_hp": 9000 * 30, "tempo_red_hc": 6000 * 30}
    # 2.5 kWh × 0.1232, 4.5 kWh × 0.6468, 3 kWh × 0.1460
    assert second.amounts == {"tempo_blue_hc": D("0.308000"), "tempo_red_hp": D("2.910600"),
                              "tempo_red_hc": D("0.438000")}


def test_unknown_tempo_colour_is_reported_not_priced_as_a_third_of_blue():
    d0 = date(2026, 1, 14)
    calendars = Calendars(tempo={date(2026, 1, 13): "BLUE"})  # d0's colour not known yet
    cost = one_day(whole_day(d0, 1000), d0, offer(Option.TEMPO, TEMPO_2025_08), calendars=calendars)
    assert cost.energy == {"tempo_blue_hc": 6 * KWH}
    assert cost.unknown == {Unpriced.TEMPO_UNKNOWN: 18 * KWH}  # all of it, reported (MED: charged kWh/3 as blue)
    assert cost.amounts == {"tempo_blue_hc": D("0.739200")}
    assert cost.fixed == D(1) and cost.energy_wmin == 24 * KWH and cost.unpriced_wmin == 18 * KWH
    assert not cost.fully_priced and cost.reasons == {Unpriced.TEMPO_UNKNOWN}


# --- EJP: pointe mobile 07:00–01:00 ---------------------------------------------------------

def test_ejp_peak_runs_from_seven_to_one_the_next_morning():
    ejp_day, next_day = date(2026, 1, 20), date(2026, 1, 21)
    calendars = Calendars(ejp=MarkedDays.complete({ejp_day}, date(2025, 11, 1), date(2026, 3, 31)))
    points = [point(at(ejp_day, 1), 1000),      # 00:30–01:00 on the EJP day: the 19th was normal
              point(at(ejp_day, 7), 2000),      # 06:30–07:00: normal
              point(at(ejp_day, 7, 30), 3000),  # 07:00–07:30: peak
              point(at(next_day, 1), 4000),     # 00:30–01:00 next day: still peak
              point(at(next_day, 1, 30), 5000),  # 01:00–01:30 next day: normal
              point(at(next_day, 7, 30), 6000)]  # 07:00–07:30 next day (not EJP): normal
    result = cost_offer(Consumption.from_curve(points, ejp_day, next_day), offer(Option.EJP, EJP_2026),
                        METER, calendars)
    first, second = result.days
    assert first.energy == {"ejp_normal": 3000 * 30, "ejp_peak": 3000 * 30}
    assert second.energy == {"ejp_peak": 4000 * 30, "ejp_normal": 11000 * 30}
    assert first.amounts == {"ejp_normal": D("0.267150"), "ejp_peak": D("0.516000")}  # 1.5 kWh each


def test_ejp_needs_its_calendar_in_winter_only():
    unknown_winter, summer = date(2026, 1, 20), date(2025, 7, 15)
    winter = one_day(whole_day(unknown_winter), unknown_winter, offer(Option.EJP, EJP_2026))
    # 01:00–07:00 is normal whatever the day; the rest depends on calendars nobody gave.
    assert winter.energy == {"ejp_normal": 6 * KWH}
    assert winter.unknown == {Unpriced.EJP_UNKNOWN: 18 * KWH}
    july = one_day(whole_day(summer), summer, offer(Option.EJP, EJP_2026))  # no EJP day April–October
    assert july.energy == {"ejp_normal": 24 * KWH} and july.unknown == {}


# --- Daylight saving: 46 and 50 half-hours ------------------------------------------------

def test_spring_forward_day_has_46_half_hours():
    day = date(2026, 3, 29)
    points = whole_day(day, 1000)
    assert len(points) == 46
    cost = one_day(points, day, offer(Option.HC_HP, HC_2025_08))
    # 00:00–06:00 lasts 5 hours that night (02:00–03:00 does not exist), plus 22:00–24:00.
    assert cost.energy == {"hc": 7 * KWH, "hp": 16 * KWH}
    assert cost.minutes == 1380 and cost.missing_minutes == 0


def test_fall_back_day_has_50_half_hours_and_keeps_the_repeated_hour():
    day = date(2026, 10, 25)
    points = whole_day(day, 1000)
    assert len(points) == 50
    cost = one_day(points, day, offer(Option.HC_HP, HC_2025_08))
    assert cost.energy == {"hc": 9 * KWH, "hp": 16 * KWH}  # 00:00–06:00 lasts 7 hours that night
    assert cost.minutes == 1500 and cost.missing_minutes == 0
    calendars = Calendars(tempo={date(2026, 10, 24): "WHITE", day: "BLUE"})
    tempo = one_day(points, day, offer(Option.TEMPO, TEMPO_2025_08), calendars=calendars)
    assert tempo.energy == {"tempo_white_hc": 7 * KWH, "tempo_blue_hp": 16 * KWH, "tempo_blue_hc": 2 * KWH}


def test_fall_back_hour_read_twice_counts_twice_in_its_bucket():
    day = date(2026, 10, 25)
    # The two 02:00–02:30 half-hours, both labelled 02:30 (CEST, then CET): both off-peak.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=0)
    second = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS, fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    cost = one_day([point(first, 1000), point(second, 3000)], day, offer(Option.HC_HP, HC_2025_08))
    assert cost.energy == {"hc": 4000 * 30, "hp": 0}


def test_off_peak_boundary_inside_the_repeated_hour():
    day = date(2026, 10, 25)
    meter = Meter(6, OffPeakHistory(((date(2020, 1, 1), parse_offpeak_hours("HC (2H30-7H00)")),)))
    cost = one_day(whole_day(day, 1000), day, offer(Option.HC_HP, HC_2025_08), meter)
    # 02:30–03:00 happens twice, then 03:00–07:00: 10 half-hours off-peak out of 50.
    assert cost.energy == {"hc": 5 * KWH, "hp": 20 * KWH}


# --- Every option on a constant 1 kW day --------------------------------------------------

WEDNESDAY, SATURDAY, SUNDAY = date(2025, 9, 10), date(2025, 9, 13), date(2025, 9, 14)


@pytest.mark.parametrize("option, prices, day, kw, calendars, energy_kwh, amounts", [
    (Option.BASE, BASE_2025_08, WEDNESDAY, {}, Calendars(), {"base": 24}, {"base": "4.684800"}),
    (Option.HC_HP, HC_2025_08, WEDNESDAY, {}, Calendars(), {"hc": 8, "hp": 16},
     {"hc": "1.308000", "hp": "3.329600"}),
    (Option.TEMPO, TEMPO_2025_08, WEDNESDAY, {},
     Calendars(tempo={date(2025, 9, 9): "BLUE", WEDNESDAY: "WHITE"}),
     {"tempo_blue_hc": 6, "tempo_white_hp": 16, "tempo_white_hc": 2},
     {"tempo_blue_hc": "0.739200", "tempo_white_hp": "2.768000", "tempo_white_hc": "0.278200"}),
    (Option.EJP, EJP_2026, date(2026, 1, 20), {},
     Calendars(ejp=MarkedDays.complete({date(2026, 1, 20)}, date(2025, 11, 1), date(2026, 3, 31))),
     {"ejp_normal": 7, "ejp_peak": 17}, {"ejp_normal": "1.246700", "ejp_peak": "5.848000"}),
    (Option.BASE_WEEKEND, ZEN_WE_2026, SATURDAY, {}, Calendars(), {"base_weekend": 24},
     {"base_weekend": "3.691200"}),
    (Option.BASE_WEEKEND, ZEN_WE_2026, WEDNESDAY, {}, Calendars(), {"base_weekday": 24},
     {"base_weekday": "4.891200"}),
    (Option.HC_WEEKEND, ZEN_WE_HC_2026, WEDNESDAY, {}, Calendars(), {"hc_weekday": 8, "hp_weekday": 16},
     {"hc_weekday": "1.294400", "hp_weekday": "3.444800"}),
    (Option.HC_WEEKEND, ZEN_WE_HC_2026, SUNDAY, {}, Calendars(), {"weekend_all_day": 24},
     {"weekend_all_day": "3.883200"}),
    # Illustrative prices (no reference offer of this kind): HC 23:00–06:00 on weekdays, all weekend.
    (Option.HC_NUIT_WEEKEND, {"hc": "0.15", "hp": "0.20"}, WEDNESDAY,
     {"offpeak_source": "offer", "offpeak_ranges": parse_offpeak_hours("HC (23H00-6H00)")}, Calendars(),
     {"hc": 7, "hp": 17}, {"hc": "1.050000", "hp": "3.400000"}),
    (Option.HC_NUIT_WEEKEND, {"hc": "0.15", "hp": "0.20"}, SATURDAY,
     {"offpeak_source": "offer", "offpeak_ranges": parse_offpeak_hours("HC (23H00-6H00)")}, Calendars(),
     {"hc": 24}, {"hc": "3.600000"}),
    # Illustrative prices; winter is November–March by default.
    (Option.SEASONAL, {"hc_winter": "0.18", "hp_winter": "0.25", "hc_summer": "0.12", "hp_summer": "0.16"},
     date(2026, 1, 14), {}, Calendars(), {"hc_winter": 8, "hp_winter": 16},
     {"hc_winter": "1.440000", "hp_winter": "4.000000"}),
    (Option.SEASONAL, {"hc_winter": "0.18", "hp_winter": "0.25", "hc_summer": "0.12", "hp_summer": "0.16"},
     WEDNESDAY, {}, Calendars(), {"hc_summer": 8, "hp_summer": 16},
     {"hc_summer": "0.960000", "hp_summer": "2.560000"}),
    (Option.ZEN_FLEX, ZEN_FLEX_2026, WEDNESDAY, {"offpeak_source": "offer", "offpeak_ranges": ZEN_FLEX_HC},
     Calendars(sobriete=MarkedDays.complete(set(), date(2025, 9, 1), date(2025, 9, 30))),
     {"eco_hc": 17, "eco_hp": 7}, {"eco_hc": "2.582300", "eco_hp": "1.463700"}),
    (Option.ZEN_FLEX, ZEN_FLEX_2026, WEDNESDAY, {"offpeak_source": "offer", "offpeak_ranges": ZEN_FLEX_HC},
     Calendars(sobriete=MarkedDays.complete({WEDNESDAY}, date(2025, 9, 1), date(2025, 9, 30))),
     {"sobriete_hc": 17, "sobriete_hp": 7}, {"sobriete_hc": "3.554700", "sobriete_hp": "5.077100"}),
])
def test_each_option_on_a_constant_day(option, prices, day, kw, calendars, energy_kwh, amounts):
    cost = one_day(whole_day(day, 1000), day, offer(option, prices, **kw), calendars=calendars)
    assert cost.energy == {k: v * KWH for k, v in energy_kwh.items()}
    assert cost.amounts == {k: D(v) for k, v in amounts.items()}
    assert cost.unknown == {} and cost.fixed == D(1)  # 365 €/year in 2025 or 2026: 1 € a day
    assert cost.total_eur == 1 + sum(D(v) for v in amounts.values())


def test_public_holidays_as_weekend_when_the_offer_says_so():
    easter_monday = date(2026, 4, 6)
    holidays = french_public_holidays(2026, 2026)
    assert holidays.status(easter_monday) is True
    with_holidays = offer(Option.BASE_WEEKEND, ZEN_WE_2026, holidays_as_weekend=True)
    cost = one_day(whole_day(easter_monday), easter_monday, with_holidays, calendars=Calendars(holidays=holidays))
    assert cost.energy == {"base_weekend": 24 * KWH}
    assert one_day(whole_day(easter_monday), easter_monday, offer(Option.BASE_WEEKEND, ZEN_WE_2026)).energy == {
        "base_weekday": 24 * KWH}
    unknown = one_day(whole_day(easter_monday), easter_monday, with_holidays)  # no holiday calendar given
    assert unknown.energy == {} and unknown.unknown == {Unpriced.HOLIDAY_UNKNOWN: 24 * KWH}


def test_zen_flex_without_its_calendar_is_not_priced():
    cost = one_day(whole_day(WEDNESDAY), WEDNESDAY,
                   offer(Option.ZEN_FLEX, ZEN_FLEX_2026, offpeak_source="offer", offpeak_ranges=ZEN_FLEX_HC))
    assert cost.unknown == {Unpriced.SOBRIETE_UNKNOWN: 24 * KWH} and cost.amounts == {}


# --- Prices over time ----------------------------------------------------------------------

def base_history() -> OfferSpec:
    # EDF Base 6 kVA: 13.72 €/month and 0.2016 until 31 July 2025, then 15.47 and 0.1952
    # until 31 January 2026 (valid_to is the first day a period no longer applies).
    return OfferSpec("edf-base", "Tarif Bleu Base", Option.BASE, (
        period({"base": "0.2016"}, "13.72", "month", valid_from=date(2025, 2, 1), valid_to=date(2025, 8, 1)),
        period({"base": "0.1952"}, "15.47", "month", valid_from=date(2025, 8, 1), valid_to=date(2026, 2, 1)),
    ))


def test_price_change_on_1_august():
    points = [p for d in (30, 31) for p in whole_day(date(2025, 7, d))] + \
             [p for d in (1, 2) for p in whole_day(date(2025, 8, d))]
    result = cost_offer(Consumption.from_curve(points, date(2025, 7, 30), date(2025, 8, 2)), base_history(),
                        METER, Calendars())
    july, august = result.months
    old, new = base_history().periods
    assert july.amounts == {"base": D("9.676800")}  # 48 kWh × 0.2016
    # Days 30 and 31 of 31: 13.72 − round(13.72 × 29/31) = 13.72 − 12.834839
    assert july.fixed == D("0.885161") and july.periods == ((old, 2),)
    assert august.amounts == {"base": D("9.369600")}  # 48 kWh × 0.1952
    assert august.fixed == D("0.998065") and august.periods == ((new, 2),)  # round(15.47 × 2/31)
    assert result.total.periods == ((old, 2), (new, 2))
    assert result.total.total_eur == D("9.676800") + D("0.885161") + D("9.369600") + D("0.998065")


def test_price_change_inside_a_month_splits_it():
    # A household's own offer whose supplier changed its prices on 16 August (illustrative).
    own = OfferSpec("own", "Mon offre", Option.BASE, (
        period({"base": "0.20"}, "15.50", "month", valid_from=date(2025, 1, 1), valid_to=date(2025, 8, 16)),
        period({"base": "0.18"}, "12.40", "month", valid_from=date(2025, 8, 16)),
    ))
    points = [p for d in range(1, 32) for p in whole_day(date(2025, 8, d))]
    result = cost_offer(Consumption.from_curve(points, date(2025, 8, 1), date(2025, 8, 31)), own, METER, Calendars())
    (august,) = result.months
    assert august.energy == {"base": 31 * 24 * KWH}
    assert august.amounts == {"base": D("72.000000") + D("69.120000")}  # 15 × 24 × 0.20 + 16 × 24 × 0.18
    # Days 1–15 of 31 at 15.50: round(15.50 × 15/31) = 7.50; days 16–31 at 12.40: 12.40 − 6.00
    assert august.fixed == D("7.50") + D("6.40")
    assert [n for _, n in august.periods] == [15, 16]


def test_a_day_without_a_price_is_price_unknown_not_another_periods_price():
    # Base history starts 1 February 2025 and, in this copy, stops on 31 January 2026.
    days = [date(2025, 1, 31), date(2025, 2, 1), date(2026, 1, 31), date(2026, 2, 1)]
    result = cost_offer(Consumption.from_curve([p for d in days for p in whole_day(d)], days[0], days[-1]),
                        base_history(), METER, Calendars())
    by_day = {d.day: d for d in result.days}
    for day in (date(2025, 1, 31), date(2026, 2, 1)):
        assert by_day[day].period is None and by_day[day].fixed is None and by_day[day].amounts == {}
        assert by_day[day].unpriced_wmin == 24 * KWH and by_day[day].reasons == {Unpriced.PRICE_UNKNOWN}
    assert by_day[date(2025, 2, 1)].amounts == {"base": D("4.838400")}  # 24 × 0.2016
    assert by_day[date(2026, 1, 31)].amounts == {"base": D("4.684800")}  # 24 × 0.1952
    assert result.total.unknown_days == {Unpriced.PRICE_UNKNOWN: (date(2025, 1, 31), date(2026, 2, 1))}
    assert result.total.price_unknown_wmin == 2 * 24 * KWH


def test_month_with_a_missing_day_still_pays_the_whole_fixed_part():
    # February 2026, EDF Base 6 kVA at 15.65 €/month and 0.1940 (EDF sheet), the 10th not read.
    feb = OfferSpec("edf-base", "Base", Option.BASE, (
        period({"base": "0.1940"}, "15.65", "month", valid_from=date(2026, 2, 1)),))
    points = [p for d in range(1, 29) if d != 10 for p in whole_day(date(2026, 2, d))]
    result = cost_offer(Consumption.from_curve(points, date(2026, 2, 1), date(2026, 2, 28)), feb, METER, Calendars())
    (month,) = result.months
    assert month.fixed == D("15.65")  # every calendar day pays (MED shrank it to 27/28)
    assert month.energy == {"base": 27 * 24 * KWH} and month.amounts == {"base": D("125.712000")}
    assert month.missing_minutes == 1440 and month.missing_half_hours == 48 and not month.complete
    assert to_cents(month.total_eur) == D("141.36")
    missing = next(d for d in result.days if d.day == date(2026, 2, 10))
    assert missing.energy == {"base": 0} and missing.fixed == D("0.558929")  # round(15.65 × 10/28) − round(… 9/28)


def test_fixed_part_rule():
    monthly = period(BASE_2025_08, "15.47", "month")
    assert sum(fixed_for_day(monthly, date(2025, 8, d)) for d in range(1, 32)) == D("15.47")
    yearly = period(BASE_2025_08, "188.20", "year")
    leap = [date(2024, 1, 1) + timedelta(days=i) for i in range(366)]
    assert sum(fixed_for_day(yearly, d) for d in leap) == D("188.20")
    assert abs(fixed_for_day(yearly, date(2024, 6, 1)) - D("188.20") / 366) <= D("0.000001")
    assert to_cents(D("0.125")) == D("0.13") and to_cents(D("0.124999")) == D("0.12")


# --- Without a load curve -----------------------------------------------------------------

def test_without_a_load_curve_base_is_priced_from_daily_energy_and_the_rest_say_why():
    first, last = date(2025, 9, 10), date(2025, 9, 14)
    daily = {first: 10_000, date(2025, 9, 11): None, date(2025, 9, 13): 12_500, last: 8_000}  # Wh
    consumption = Consumption.from_daily(daily, first, last)
    base = cost_offer(consumption, offer(Option.BASE, BASE_2025_08), METER, Calendars())
    assert base.total.energy == {"base": 30_500 * 60} and base.total.amounts == {"base": D("5.953600")}
    assert base.total.fixed == D(5) and base.total.missing_minutes == 2 * 1440  # the 11th and the 12th
    weekend = cost_offer(consumption, offer(Option.BASE_WEEKEND, ZEN_WE_2026), METER, Calendars())
    assert weekend.total.energy == {"base_weekday": 10_000 * 60, "base_weekend": 20_500 * 60}
    for option, prices in ((Option.HC_HP, HC_2025_08), (Option.TEMPO, TEMPO_2025_08), (Option.EJP, EJP_2026)):
        result = cost_offer(consumption, offer(option, prices), METER, Calendars())
        assert isinstance(result, NotComputable) and result.reason is Blocked.NO_LOAD_CURVE
        assert result.label == "courbe de charge non activée"
        assert "mon-compte-particulier.enedis.fr" in result.explanation
        assert "consommation horaire" in result.explanation


def test_offers_that_cannot_be_computed_for_this_meter():
    consumption = Consumption.from_curve(whole_day(WEDNESDAY), WEDNESDAY, WEDNESDAY)
    tempo_9 = OfferSpec("t", "Tempo", Option.TEMPO, (period(TEMPO_2025_08, kva=9),))
    assert cost_offer(consumption, tempo_9, METER, Calendars()).reason is Blocked.KVA_NOT_OFFERED
    single_rate = Meter(6, OffPeakHistory(((date(2020, 1, 1), ()),)))
    result = cost_offer(consumption, offer(Option.HC_HP, HC_2025_08), single_rate, Calendars())
    assert result.reason is Blocked.NO_OFFPEAK_HOURS and "heures creuses" in result.explanation
    # The offer's own hours do not depend on the meter's contract.
    flex = offer(Option.ZEN_FLEX, ZEN_FLEX_2026, offpeak_source="offer", offpeak_ranges=ZEN_FLEX_HC)
    assert isinstance(cost_offer(consumption, flex, single_rate, Calendars()), OfferCost)


# --- Comparing offers ----------------------------------------------------------------------

def test_comparison_uses_only_the_days_every_offer_prices():
    first, last = date(2026, 1, 12), date(2026, 1, 16)
    consumption = Consumption.from_curve([p for i in range(5) for p in whole_day(first + timedelta(days=i))],
                                         first, last)
    calendars = Calendars(tempo={date(2026, 1, 11) + timedelta(days=i): "BLUE" for i in range(4)})  # 11th–14th
    results = [cost_offer(consumption, offer(o, p), METER, calendars)
               for o, p in ((Option.BASE, BASE_2025_08), (Option.HC_HP, HC_2025_08), (Option.TEMPO, TEMPO_2025_08))]
    results.append(cost_offer(consumption, OfferSpec("t9", "Tempo 9", Option.TEMPO, (period(TEMPO_2025_08, kva=9),)),
                              METER, calendars))
    comparison = compare(results)
    # The 15th's colour is unknown; the 16th's night belongs to it too.
    assert comparison.days == (date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14))
    assert comparison.spans == ((date(2026, 1, 12), date(2026, 1, 14)),)
    assert [c.offer.option for c, _ in comparison.ranked] == [Option.TEMPO, Option.HC_HP, Option.BASE]
    tempo_summary = comparison.ranked[0][1]
    # A blue day at 1 kW: 8 kWh × 0.1232 + 16 kWh × 0.1494 + 1 € fixed, three days.
    assert tempo_summary.total_eur == 3 * (D("0.985600") + D("2.390400") + 1)
    assert [n.reason for n in comparison.not_computable] == [Blocked.KVA_NOT_OFFERED]


# --- Inputs the engine refuses or repairs --------------------------------------------------

def test_inputs_are_checked():
    with pytest.raises(ValueError, match="Decimal"):
        PricePeriod(6, date(2025, 1, 1), None, D(1), FixedPer.YEAR, {"base": 0.1952})
    with pytest.raises(ValueError, match="do not match"):
        offer(Option.HC_HP, BASE_2025_08)
    with pytest.raises(ValueError, match="overlap"):
        OfferSpec("x", "x", Option.BASE, (period(BASE_2025_08, valid_from=date(2025, 1, 1), valid_to=date(2025, 8, 2)),
                                          period(BASE_2025_08, valid_from=date(2025, 8, 1))))
    with pytest.raises(ValueError, match="before it starts"):
        period(BASE_2025_08, valid_from=date(2025, 8, 1), valid_to=date(2025, 8, 1))
    with pytest.raises(ValueError, match="time zone"):
        CurvePoint(datetime(2025, 1, 1, 0, 30), 30, 100)
    with pytest.raises(ValueError, match="exactly when the offer fixes them"):
        offer(Option.ZEN_FLEX, ZEN_FLEX_2026, offpeak_source="offer")
    with pytest.raises(ValueError, match="cannot take its off-peak hours"):
        offer(Option.HC_HP, HC_2025_08, offpeak_source="none")
    with pytest.raises(ValueError, match="cannot take its off-peak hours"):
        offer(Option.BASE, BASE_2025_08, offpeak_source="contract")
    with pytest.raises(ValueError, match="cannot take its off-peak hours"):  # Tempo's are the tariff's
        offer(Option.TEMPO, TEMPO_2025_08, offpeak_source="offer", offpeak_ranges=parse_offpeak_hours("HC (23H00-7H00)"))
    with pytest.raises(ValueError, match="known spans"):
        MarkedDays(frozenset({date(2025, 1, 1)}), ((date(2025, 2, 1), date(2025, 2, 28)),))
    with pytest.raises(ValueError, match="Tempo colours"):
        Calendars(tempo={date(2025, 1, 1): "bleu"})
    with pytest.raises(ValueError, match="1 November and 31 March"):
        Calendars(ejp=MarkedDays.complete({date(2025, 7, 1)}, date(2025, 1, 1), date(2025, 12, 31)))


def test_offer_rows_as_the_catalogue_stores_them():
    # models.offers keeps Tempo as "offer" hours 22:00–06:00 and HC as "contract": both accepted.
    tempo = offer(Option.TEMPO, TEMPO_2025_08, offpeak_source="offer", offpeak_ranges=HC_22_6)
    assert tempo.offpeak_source == "none" and tempo.offpeak_ranges == ()
    assert offer(Option.HC_HP, HC_2025_08, offpeak_source="contract") == offer(Option.HC_HP, HC_2025_08)
    assert offer(Option.BASE, BASE_2025_08).offpeak_source == "none"


def test_repeated_points_count_once():
    points = whole_day(WEDNESDAY, 1000)
    consumption = Consumption.from_curve(points + points[:3], WEDNESDAY, WEDNESDAY)
    assert consumption.dropped_points == 3 and consumption.days[WEDNESDAY].total == 24 * KWH


def test_points_from_the_cache():
    # The cache stores interval starts (pipeline/clients/enedis.py): 01:30+01:00 on the spring
    # night ends at 02:00+01:00, which is 03:00+02:00 in Paris.
    (p,) = points_from_cache({date(2026, 3, 29): [{"start": "2026-03-29T01:30:00+01:00", "minutes": 30,
                                                   "watts": 800, "wh": 400}]})
    assert p.end == datetime(2026, 3, 29, 3, 0, tzinfo=PARIS) and p.start.isoformat() == "2026-03-29T01:30:00+01:00"


def test_summaries_add_up_and_convert():
    result = cost_offer(Consumption.from_curve(whole_day(WEDNESDAY) + whole_day(SATURDAY), WEDNESDAY, SATURDAY),
                        offer(Option.HC_HP, HC_2025_08), METER, Calendars())
    assert summarise(result.days[:2]) + summarise(result.days[2:]) == result.total
    assert summarise(()) + result.total == result.total and summarise(()).first is None
    assert isinstance(result.total, Summary) and result.total.energy_kwh == {"hc": D(16), "hp": D(32)}
    assert kwh(90_000) == D("1.5")
    assert date_spans([date(2025, 1, 3), date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 5)]) == (
        (date(2025, 1, 1), date(2025, 1, 3)), (date(2025, 1, 5), date(2025, 1, 5)))


def test_an_unknown_colour_that_held_no_energy_leaves_the_day_fully_priced():
    """A red Tempo day after a day of unknown colour: its 00:00–06:00 belongs to the unknown day. With nothing
    read then, nothing is unpriced: the day is fully priced and compared (it used to say TEMPO_UNKNOWN: 0)."""
    unknown_day, red = date(2026, 1, 14), date(2026, 1, 15)
    calendars = Calendars(tempo={red: "RED"})  # the 14th's colour is not known
    points = [p for p in whole_day(red, 1000) if p.start.hour >= 6]  # nothing read from 00:00 to 06:00
    cost = one_day(points, red, offer(Option.TEMPO, TEMPO_2025_08), calendars=calendars)
    assert cost.unknown == {} and cost.reasons == frozenset() and cost.fully_priced
    assert cost.energy == {"tempo_red_hp": 16 * KWH, "tempo_red_hc": 2 * KWH}
    assert cost.missing_minutes == 360
    # A zero handed in directly is no reason either, and lists no unknown day.
    zero = DayCost(red, 1440, 0, {"tempo_red_hp": KWH}, {Unpriced.TEMPO_UNKNOWN: 0}, {"tempo_red_hp": D("0.6468")},
                   D(1), cost.period)
    assert zero.fully_priced and zero.reasons == frozenset()
    assert summarise([zero]).unknown_days == {}
    # Read energy in those hours is still reported, and the day left out of a comparison.
    night = one_day(whole_day(red, 1000), red, offer(Option.TEMPO, TEMPO_2025_08), calendars=calendars)
    assert night.unknown == {Unpriced.TEMPO_UNKNOWN: 6 * KWH} and not night.fully_priced
    ranked = compare([cost_offer(Consumption.from_curve(points, red, red), offer(Option.TEMPO, TEMPO_2025_08), METER,
                                 calendars)])
    assert ranked.days == (red,)
