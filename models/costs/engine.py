"""The cost engine: a meter's energy priced by an offer, per day, per month, with its coverage.

How it works (and why):
1. `Consumption` sums the readings once per Paris day (integer W·min), for all offers.
2. For each offer and day, `rules.day_spans` says which bucket each wall-clock minute falls
   in; the day's energy per bucket is a few differences of the day's cumulative energy.
3. Only then is money computed, in `Decimal`: energy per (day, bucket) × that day's price.
   Pricing sums instead of half-hours is what keeps 12 months × every offer fast
   (`python -m bench --only costs`), and it changes nothing: the price is constant over
   a day and bucket.

Money and rounding (stated once, here):
- Prices and fixed parts are `Decimal` euros TTC; arithmetic runs in `CONTEXT` (40 digits,
  round half even), whatever context the caller has set.
- Each (day, bucket) amount and each day's fixed part is kept to the micro-euro
  (`MICRO`, round half even). Sums over days (months, totals, any set of days) add those
  exactly, so a period split in two and added back equals the whole, to the micro-euro.
- Rounding to the cent (`to_cents`, round half up) is for display only: round each shown
  figure once; cents of days need not add up to the cents of their month.

The fixed part (abonnement) is charged for every calendar day of the period, whether or
not readings exist that day (tariffs-and-admin.md §3.2 defect 7: MyElectricalData shrank
it with the data), unless the day has no known price. See `fixed_for_day` for the rule.
"""

from __future__ import annotations

import bisect
from calendar import isleap, monthrange
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext,
)
from functools import lru_cache, reduce
from itertools import groupby

from models.costs.consumption import WMIN_PER_KWH, Consumption, kwh
from models.costs.inputs import (
    DAILY_OPTIONS, USES_OFFPEAK_HOURS, Calendars, FixedPer, Meter, OfferSpec, OffPeakSource, PricePeriod,
)
from models.costs.reasons import EXPLANATIONS, LABELS, Assumed, Blocked, Unpriced
from models.costs.rules import day_spans

CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
MICRO = Decimal("0.000001")
CENT = Decimal("0.01")
ZERO = Decimal(0)


def to_cents(amount: Decimal) -> Decimal:
    """An amount rounded to the cent for display (round half up, as on a bill)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _micro(amount: Decimal) -> Decimal:
    return amount.quantize(MICRO, context=CONTEXT)


def fixed_for_day(period: PricePeriod, day: date) -> Decimal:
    """The fixed part charged for `day`: the period's price spread over the days of its unit.

    A price per month is spread over the days of each calendar month, a price per year over
    the days of each calendar year (366 in a leap year): day k of n is charged
    round(P·k/n) − round(P·(k−1)/n), to the micro-euro, so the days of a whole month (or
    year) add up to exactly P, and every day is charged P/n to within a micro-euro. This is
    prorata temporis as tariffs-and-admin.md §3.3 asks (an explicit convention; its source
    [C] spreads CRE's annual prices as annual/365); using the unit the price was published
    in means a full month of a €/month price costs exactly the price on the price sheet.
    """
    return _spread(period.fixed_eur, *_day_of(period.fixed_per, day))


def _day_of(per: FixedPer, day: date) -> tuple[int, int]:
    """(k, n): `day` is day k of the n days of its month or year."""
    if per is FixedPer.MONTH:
        return day.day, monthrange(day.year, day.month)[1]
    return day.timetuple().tm_yday, 366 if isleap(day.year) else 365


@lru_cache(maxsize=4096)  # the same (price, k, n) comes back every month, for every offer
def _spread(price: Decimal, k: int, n: int) -> Decimal:
    with localcontext(CONTEXT):
        return _micro(price * k / n) - _micro(price * (k - 1) / n)


@dataclass(frozen=True, slots=True)
class DayCost:
    """One Paris calendar day priced by one offer.

    `energy`: W·min per bucket (every bucket the day's rule uses, 0 included).
    `unknown`: W·min the rule could not place in a bucket, by reason (an unknown Tempo
    colour, EJP or Sobriété day, holiday or off-peak schedule): reported, never charged.
    Only reasons that held energy are listed (`cost_offer` leaves out a zero).
    `period`: the price period in force, None when the offer has no price that day
    ("prix inconnu"): then `amounts` is empty, `fixed` None, and none of the energy is
    charged (`Unpriced.PRICE_UNKNOWN`).
    `missing_minutes`: minutes of the day without a reading (energy not known, not guessed).
    `assumed`: what the day's price rests on that is not known for that day (priced anyway,
    shown on the page), e.g. the earliest off-peak schedule stretched back.
    """

    day: date
    minutes: int
    missing_minutes: int
    energy: Mapping[str, int]
    unknown: Mapping[Unpriced, int]
    amounts: Mapping[str, Decimal]
    fixed: Decimal | None
    period: PricePeriod | None
    assumed: frozenset[Assumed] = frozenset()

    @property
    def energy_wmin(self) -> int:
        """All the day's energy read (placed in a bucket or not)."""
        return sum(self.energy.values()) + sum(self.unknown.values())

    @property
    def unpriced_wmin(self) -> int:
        return sum(self.unknown.values()) + (0 if self.period else sum(self.energy.values()))

    @property
    def total_eur(self) -> Decimal:
        """Fixed part plus energy, of what could be priced."""
        return (self.fixed or ZERO) + sum(self.amounts.values(), ZERO)

    @property
    def reasons(self) -> frozenset[Unpriced]:
        """Why some of the day's energy (or all of it) has no price; a reason that held no energy is none."""
        return (frozenset(k for k, v in self.unknown.items() if v)
                | ({Unpriced.PRICE_UNKNOWN} if self.period is None else frozenset()))

    @property
    def fully_priced(self) -> bool:
        """Every read Wh and the fixed part have a price (missing readings aside).

        An unknown calendar day that held no energy leaves nothing unpriced: a red Tempo day after
        a day of unknown colour, with nothing read from 00:00 to 06:00, is fully priced.
        """
        return self.period is not None and not any(self.unknown.values())


@dataclass(frozen=True)
class Summary:
    """Days of one offer added up: a month, the whole period, or any set of days.

    Fields as in `DayCost`, summed; `fixed` and `amounts` over the days that have a price.
    `price_unknown_wmin`: the part of `energy` on days without a price.
    `unknown_days`: for each reason, the days it applies to (the coverage list).
    `assumed_days`: for each assumption, the days priced on it.
    `periods`: the price periods used, each with its number of days, in date order.
    """

    first: date | None
    last: date | None
    days: int
    minutes: int
    missing_minutes: int
    energy: Mapping[str, int]
    unknown: Mapping[Unpriced, int]
    amounts: Mapping[str, Decimal]
    fixed: Decimal
    price_unknown_wmin: int
    unknown_days: Mapping[Unpriced, tuple[date, ...]]
    assumed_days: Mapping[Assumed, tuple[date, ...]]
    periods: tuple[tuple[PricePeriod, int], ...]

    @property
    def energy_wmin(self) -> int:
        return sum(self.energy.values()) + sum(self.unknown.values())

    @property
    def unpriced_wmin(self) -> int:
        return sum(self.unknown.values()) + self.price_unknown_wmin

    @property
    def energy_kwh(self) -> dict[str, Decimal]:
        return {k: kwh(v) for k, v in self.energy.items()}

    @property
    def energy_eur(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)

    @property
    def total_eur(self) -> Decimal:
        return self.fixed + self.energy_eur

    @property
    def missing_half_hours(self) -> int:
        """Missing minutes in half-hours, rounded up (for the coverage line)."""
        return -(-self.missing_minutes // 30)

    @property
    def complete(self) -> bool:
        """Every minute read and every Wh priced."""
        return self.missing_minutes == 0 and not self.unknown_days

    def __add__(self, other: Summary) -> Summary:
        """Two summaries of disjoint sets of days, added."""
        if not isinstance(other, Summary):
            return NotImplemented
        unknown_days = _merge_days(self.unknown_days, other.unknown_days)
        assumed_days = _merge_days(self.assumed_days, other.assumed_days)
        periods: list[list] = [[p, n] for p, n in self.periods]
        for p, n in other.periods:
            for entry in periods:
                if entry[0] == p:
                    entry[1] += n
                    break
            else:
                periods.append([p, n])
        with localcontext(CONTEXT):
            return Summary(
                first=min((d for d in (self.first, other.first) if d), default=None),
                last=max((d for d in (self.last, other.last) if d), default=None),
                days=self.days + other.days,
                minutes=self.minutes + other.minutes,
                missing_minutes=self.missing_minutes + other.missing_minutes,
                energy=_add(self.energy, other.energy),
                unknown=_add(self.unknown, other.unknown),
                amounts=_add(self.amounts, other.amounts),
                fixed=self.fixed + other.fixed,
                price_unknown_wmin=self.price_unknown_wmin + other.price_unknown_wmin,
                unknown_days=unknown_days,
                assumed_days=assumed_days,
                periods=_period_order(periods),
            )


def _merge_days(a: Mapping, b: Mapping) -> dict:
    return {k: tuple(sorted(a.get(k, ()) + b.get(k, ()))) for k in dict.fromkeys([*a, *b])}


def _add(a: Mapping, b: Mapping) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def _period_order(periods: list[list]) -> tuple[tuple[PricePeriod, int], ...]:
    return tuple((p, n) for p, n in sorted(periods, key=lambda e: (e[0].valid_from, e[0].kva)))


def summarise(days: Iterable[DayCost]) -> Summary:
    """Add up days of one offer (in one pass: it runs for every month of every offer)."""
    energy: dict[str, int] = {}
    unknown: dict[Unpriced, int] = {}
    amounts: dict[str, Decimal] = {}
    unknown_days: dict[Unpriced, list[date]] = {}
    assumed_days: dict[Assumed, list[date]] = {}
    periods: list[list] = []
    first = last = None
    count = minutes = missing = price_unknown = 0
    fixed = ZERO
    with localcontext(CONTEXT):
        for day in days:
            count += 1
            first = day.day if first is None or day.day < first else first
            last = day.day if last is None or day.day > last else last
            minutes += day.minutes
            missing += day.missing_minutes
            for k, v in day.energy.items():
                energy[k] = energy.get(k, 0) + v
            for k, v in day.unknown.items():
                if v:
                    unknown[k] = unknown.get(k, 0) + v
                    unknown_days.setdefault(k, []).append(day.day)
            for k in day.assumed:
                assumed_days.setdefault(k, []).append(day.day)
            if day.period is None:
                price_unknown += sum(day.energy.values())
                unknown_days.setdefault(Unpriced.PRICE_UNKNOWN, []).append(day.day)
                continue
            fixed += day.fixed
            for k, v in day.amounts.items():
                amounts[k] = amounts[k] + v if k in amounts else v
            if periods and periods[-1][0] is day.period:
                periods[-1][1] += 1
            else:
                for entry in periods:
                    if entry[0] is day.period or entry[0] == day.period:
                        entry[1] += 1
                        break
                else:
                    periods.append([day.period, 1])
    return Summary(first, last, count, minutes, missing, energy, unknown, amounts, fixed, price_unknown,
                   {k: tuple(sorted(v)) for k, v in unknown_days.items()},
                   {k: tuple(sorted(v)) for k, v in assumed_days.items()}, _period_order(periods))


@dataclass(frozen=True)
class OfferCost:
    """An offer priced over a period: every day, every calendar month, and the total.

    `curve`: True when priced from the load curve, False from daily energy.
    Months are calendar months, cut to the period at its ends.
    """

    offer: OfferSpec
    kva: int
    curve: bool
    days: tuple[DayCost, ...]
    months: tuple[Summary, ...]
    total: Summary

    def over(self, days: Iterable[date]) -> Summary:
        """The summary of some of the days (those outside the period are ignored)."""
        wanted = set(days)
        return summarise(d for d in self.days if d.day in wanted)


@dataclass(frozen=True)
class NotComputable:
    """An offer that cannot be priced for this meter at all, and why (in French for the page)."""

    offer: OfferSpec
    reason: Blocked

    @property
    def label(self) -> str:
        return LABELS[self.reason]

    @property
    def explanation(self) -> str:
        return EXPLANATIONS[self.reason]


def blocked(consumption: Consumption, offer: OfferSpec, meter: Meter) -> Blocked | None:
    """Why the offer cannot be computed for this meter at all, or None."""
    if not consumption.curve and offer.option not in DAILY_OPTIONS:
        # A daily figure cannot be split into hours: rather than share it out by a guessed
        # profile, say the curve is needed and how to switch it on.
        return Blocked.NO_LOAD_CURVE
    if not offer.periods_at(meter.kva):
        return Blocked.KVA_NOT_OFFERED
    if (offer.option in USES_OFFPEAK_HOURS and offer.offpeak_source is OffPeakSource.CONTRACT
            and not meter.offpeak.any_offpeak):
        return Blocked.NO_OFFPEAK_HOURS
    return None


def cost_offer(consumption: Consumption, offer: OfferSpec, meter: Meter,
               calendars: Calendars) -> OfferCost | NotComputable:
    """Price `consumption` with `offer` for `meter`, day by day over the consumption's period."""
    reason = blocked(consumption, offer, meter)
    if reason is not None:
        return NotComputable(offer, reason)
    periods = offer.periods_at(meter.kva)
    period_starts = [p.valid_from for p in periods]
    days = []
    with localcontext(CONTEXT):
        for day, de in consumption.days.items():
            i = bisect.bisect_right(period_starts, day) - 1
            # A day no period covers stays unpriced: never the price of the period before or
            # after (tariffs-and-admin.md §3.2 defect 6: today's prices for past years).
            period = periods[i] if i >= 0 and periods[i].covers(day) else None
            energy: dict[str, int] = {}
            unknown: dict[Unpriced, int] = {}
            spans, assumed = day_spans(offer, meter, calendars, day)
            for key, a, b in spans:
                wmin = de.before(b) - de.before(a)
                if isinstance(key, Unpriced):
                    if wmin:  # an unknown that held no energy leaves nothing unpriced (see DayCost.unknown)
                        unknown[key] = unknown.get(key, 0) + wmin
                else:
                    energy[key] = energy.get(key, 0) + wmin
            if period is None:
                amounts, fixed = {}, None
            else:
                prices = period.prices
                amounts = {k: (Decimal(v) * prices[k] / WMIN_PER_KWH).quantize(MICRO) for k, v in energy.items()}
                fixed = fixed_for_day(period, day)
            days.append(DayCost(day, de.minutes, de.missing_minutes, energy, unknown, amounts, fixed, period, assumed))
    months = tuple(summarise(group) for _, group in groupby(days, key=lambda d: (d.day.year, d.day.month)))
    total = reduce(Summary.__add__, months) if months else summarise(())
    return OfferCost(offer, meter.kva, consumption.curve, tuple(days), months, total)


def cost_offers(consumption: Consumption, offers: Iterable[OfferSpec], meter: Meter,
                calendars: Calendars) -> list[OfferCost | NotComputable]:
    """`cost_offer` for each offer, in the order given."""
    return [cost_offer(consumption, offer, meter, calendars) for offer in offers]


def date_spans(days: Iterable[date]) -> tuple[tuple[date, date], ...]:
    """Consecutive runs of days as inclusive (first, last) spans, for "du … au …" lines."""
    spans: list[list[date]] = []
    for day in sorted(set(days)):
        if spans and spans[-1][1] + timedelta(days=1) == day:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return tuple((a, b) for a, b in spans)


@dataclass(frozen=True)
class Comparison:
    """Offers ranked by what they would have cost over the days all of them price fully."""

    days: tuple[date, ...]
    ranked: tuple[tuple[OfferCost, Summary], ...]  # cheapest first
    not_computable: tuple[NotComputable, ...]

    @property
    def spans(self) -> tuple[tuple[date, date], ...]:
        return date_spans(self.days)


def compare(results: Sequence[OfferCost | NotComputable]) -> Comparison:
    """Rank computed offers over the days where every one of them has a price for all energy.

    Comparing over different days would favour the offer with the most holes (an unknown
    Tempo colour costs nothing), so a day any offer cannot price is left out for all.
    """
    costs = [r for r in results if isinstance(r, OfferCost)]
    days: set[date] | None = None
    for cost in costs:
        priced = {d.day for d in cost.days if d.fully_priced}
        days = priced if days is None else days & priced
    common = tuple(sorted(days or ()))
    ranked = sorted(((c, c.over(common)) for c in costs), key=lambda cs: (cs[1].total_eur, cs[0].offer.name))
    return Comparison(common, tuple(ranked), tuple(r for r in results if isinstance(r, NotComputable)))
