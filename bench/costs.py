"""Bench case: the cost engine pricing 12 months of half-hours against a dozen offers.

The issue's target: under 200 ms of CPU for the engine (sum energy per day and bucket
once, then price the sums). Measured with `time.process_time` (CPU, not wall clock), the
median of `repeat` runs, on a made-up but plausible household curve.

The offers are EDF's as listed in ../shared/reference/tariffs/edf-tarif-bleu.json at 9 kVA
(Base, HC and Tempo with their three price periods, `valid_to` written exclusive; EJP, Zen Week-End, Zen Week-End HC and
Zen Flex), plus five variants so that every option is timed. For the bench only, offers
whose single period starts on 2026-02-01 are given that price for the whole year: a day
without a price skips the Decimal work, and the bench measures the case where every day
is priced. These are load, not a statement of what anyone paid.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from models.calendar import PARIS
from models.costs import (
    Calendars, Consumption, FixedPer, MarkedDays, Meter, OfferSpec, OffPeakHistory, Option, PricePeriod, compare,
    cost_offers, french_public_holidays, points_from_cache,
)
from models.offpeak import parse_offpeak_hours

FIRST, LAST = date(2025, 3, 1), date(2026, 2, 28)
KVA = 9


def _period(valid_from: str, valid_to: str | None, month: str, prices: dict[str, str]) -> PricePeriod:
    return PricePeriod(KVA, date.fromisoformat(valid_from), valid_to and date.fromisoformat(valid_to), Decimal(month),
                       FixedPer.MONTH, {k: Decimal(v) for k, v in prices.items()})


def _history(rows: list[tuple[str, str | None, str, dict[str, str]]]) -> tuple[PricePeriod, ...]:
    return tuple(_period(*row) for row in rows)


TEMPO = [("2025-02-01", "2025-08-01", "17.45", {"tempo_blue_hc": "0.1288", "tempo_blue_hp": "0.1552",
                                              "tempo_white_hc": "0.1447", "tempo_white_hp": "0.1792",
                                              "tempo_red_hc": "0.1518", "tempo_red_hp": "0.6586"}),
         ("2025-08-01", "2026-02-01", "19.49", {"tempo_blue_hc": "0.1232", "tempo_blue_hp": "0.1494",
                                              "tempo_white_hc": "0.1391", "tempo_white_hp": "0.1730",
                                              "tempo_red_hc": "0.1460", "tempo_red_hp": "0.6468"}),
         ("2026-02-01", None, "19.38", {"tempo_blue_hc": "0.1325", "tempo_blue_hp": "0.1612",
                                        "tempo_white_hc": "0.1499", "tempo_white_hp": "0.1871",
                                        "tempo_red_hc": "0.1575", "tempo_red_hp": "0.7060"})]
ZEN_FLEX_HC = parse_offpeak_hours("HC (0H00-8H00;13H00-18H00;20H00-24H00)")
YEAR = "2025-01-01"  # bench only: see the module docstring


def offers() -> list[OfferSpec]:
    base = _history([("2025-02-01", "2025-08-01", "17.27", {"base": "0.2016"}),
                     ("2025-08-01", "2026-02-01", "19.39", {"base": "0.1952"}),
                     ("2026-02-01", None, "19.56", {"base": "0.19266"})])
    hc = _history([("2025-02-01", "2025-08-01", "18.01", {"hp": "0.2146", "hc": "0.1696"}),
                   ("2025-08-01", "2026-02-01", "19.81", {"hp": "0.2081", "hc": "0.1635"}),
                   ("2026-02-01", None, "19.56", {"hp": "0.2065", "hc": "0.1578"})])
    zen_we = _history([(YEAR, None, "18.49", {"base_weekday": "0.2038", "base_weekend": "0.1538"})])
    return [
        OfferSpec("base", "Tarif Bleu Base", Option.BASE, base),
        OfferSpec("hc", "Tarif Bleu Heures Creuses", Option.HC_HP, hc),
        OfferSpec("tempo", "Tarif Bleu Tempo", Option.TEMPO, _history(TEMPO)),
        OfferSpec("ejp", "Tarif Bleu EJP", Option.EJP,
                  _history([(YEAR, None, "19.20", {"ejp_normal": "0.1781", "ejp_peak": "0.3440"})])),
        OfferSpec("zen-we", "Zen Week-End", Option.BASE_WEEKEND, zen_we),
        OfferSpec("zen-we-feries", "Zen Week-End (fériés)", Option.BASE_WEEKEND, zen_we, holidays_as_weekend=True),
        OfferSpec("zen-we-hc", "Zen Week-End HC", Option.HC_WEEKEND, _history(
            [(YEAR, None, "18.91", {"hp_weekday": "0.2153", "hc_weekday": "0.1618", "weekend_all_day": "0.1618"})])),
        OfferSpec("zen-flex", "Zen Flex", Option.ZEN_FLEX, _history(
            [(YEAR, None, "18.91", {"eco_hp": "0.2091", "eco_hc": "0.1519", "sobriete_hp": "0.7253",
                                    "sobriete_hc": "0.2091"})]), offpeak_source="offer", offpeak_ranges=ZEN_FLEX_HC),
        # Illustrative variants, for the options no seeded offer uses.
        OfferSpec("nuit-we", "HC nuit et week-end", Option.HC_NUIT_WEEKEND,
                  _history([(YEAR, None, "19.00", {"hc": "0.1600", "hp": "0.2100"})]),
                  offpeak_source="offer", offpeak_ranges=parse_offpeak_hours("HC (23H00-6H00)")),
        OfferSpec("saison", "Saisonnière", Option.SEASONAL, _history([(YEAR, None, "19.00", {
            "hc_winter": "0.1800", "hp_winter": "0.2500", "hc_summer": "0.1200", "hp_summer": "0.1600"})])),
        OfferSpec("own-base", "Mon offre Base", Option.BASE, _history([(YEAR, None, "18.00", {"base": "0.1900"})])),
        OfferSpec("own-hc", "Mon offre HC", Option.HC_HP, _history([(YEAR, None, "18.50", {"hc": "0.1500",
                                                                                          "hp": "0.2000"})])),
    ]


def cached_curve(rnd: random.Random) -> dict[date, list[dict]]:
    """A year of half-hours in the cache's shape (interval starts), DST nights included."""
    days: dict[date, list[dict]] = {}
    t = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=PARIS).astimezone(UTC)
    stop = datetime(LAST.year, LAST.month, LAST.day, tzinfo=PARIS).astimezone(UTC) + timedelta(days=1)
    while t < stop:
        local = t.astimezone(PARIS)
        evening = 1800 if 18 <= local.hour < 22 else 0
        watts = rnd.randrange(150, 600) + evening + (2500 if local.hour in (2, 3) else 0)  # a water heater at night
        days.setdefault(local.date(), []).append({"start": local.isoformat(), "minutes": 30, "watts": watts,
                                                  "wh": watts // 2})
        t += timedelta(minutes=30)
    return days


def calendars(rnd: random.Random) -> Calendars:
    season = [FIRST - timedelta(days=1) + timedelta(days=i) for i in range((LAST - FIRST).days + 2)]
    winter_weekdays = [d for d in season if d.month in (11, 12, 1, 2, 3) and d.weekday() < 5]
    red = set(rnd.sample(winter_weekdays, 22))
    white = set(rnd.sample([d for d in season if d not in red and d.weekday() != 6], 43))
    tempo = {d: "RED" if d in red else "WHITE" if d in white else "BLUE" for d in season}
    return Calendars(tempo=tempo,
                     ejp=MarkedDays.complete(rnd.sample(winter_weekdays, 22), season[0], season[-1]),
                     sobriete=MarkedDays.complete(rnd.sample(winter_weekdays, 10), season[0], season[-1]),
                     holidays=french_public_holidays(FIRST.year, LAST.year))


def run(repeat: int) -> None:
    rnd = random.Random(13)
    cached = cached_curve(rnd)
    cals = calendars(rnd)
    offer_list = offers()
    meter = Meter(KVA, OffPeakHistory(((date(2024, 1, 1), parse_offpeak_hours("HC (22H30-6H30)")),)))
    samples: dict[str, list[float]] = {"points": [], "consumption": [], "offers": [], "compare": []}
    for _ in range(repeat):
        t0 = time.process_time()
        points = points_from_cache(cached)
        t1 = time.process_time()
        consumption = Consumption.from_curve(points, FIRST, LAST)
        t2 = time.process_time()
        results = cost_offers(consumption, offer_list, meter, cals)
        t3 = time.process_time()
        comparison = compare(results)
        t4 = time.process_time()
        for name, seconds in zip(samples, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            samples[name].append(seconds * 1000)
    ms = {name: statistics.median(values) for name, values in samples.items()}
    engine = ms["consumption"] + ms["offers"] + ms["compare"]
    print(f"cost engine, {len(points)} half-hours ({FIRST} to {LAST}) x {len(offer_list)} offers, "
          f"CPU ms, median of {repeat}:")
    print(f"  Consumption.from_curve (sum per day, once):   {ms['consumption']:6.1f}")
    print(f"  cost_offers (every offer, every day, Decimal): {ms['offers']:6.1f}  "
          f"({ms['offers'] / len(offer_list):.1f} per offer)")
    print(f"  compare (common days, ranking):                {ms['compare']:6.1f}")
    print(f"  engine total:                                  {engine:6.1f}  (target < 200)")
    print(f"  before it, points_from_cache (cache dicts -> CurvePoint): {ms['points']:.1f}")
    best = comparison.ranked[0]
    print(f"  ({len(comparison.days)} days compared; cheapest: {best[0].offer.name})")
