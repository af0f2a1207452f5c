"""What the cost engine is given: offers and their prices, the meter, the day calendars, the curve.

These plain, frozen dataclasses are the contract between the engine and the rest of Relevé:
the database side (offers, price periods, calendars, off-peak history) and the pages and
the simulator convert their rows into them; the engine does no I/O of its own.

Units, once for all:
- money is `Decimal` in euros TTC, never float (a float price is refused);
- energy prices are € per kWh, per *bucket* (the price names of `BUCKETS`, the same keys as
  the project's tariff data file, e.g. "hc", "tempo_red_hp", "weekend_all_day");
- dates are Paris calendar days; times are Paris wall-clock minutes since midnight;
- load-curve power is in W (the average over the interval, as Enedis gives it).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from models.grid.tempo import TEMPO_COLOURS
from models.offpeak import OffPeakRange


class Option(StrEnum):
    """The pricing option of an offer: which buckets it has and which rule fills them."""

    BASE = "BASE"  # one price
    HC_HP = "HC_HP"  # off-peak / peak on the off-peak hours
    TEMPO = "TEMPO"  # 3 colours × HC 22:00–06:00 / HP, Tempo day 06:00–06:00
    EJP = "EJP"  # normal / "pointe mobile" 07:00–01:00 on EJP days
    BASE_WEEKEND = "BASE_WEEKEND"  # weekday / weekend price (EDF Zen Week-End)
    HC_WEEKEND = "HC_WEEKEND"  # weekday HC/HP, weekend one price all day (EDF Zen Week-End HC)
    HC_NUIT_WEEKEND = "HC_NUIT_WEEKEND"  # HC at night on weekdays and all weekend, HP otherwise
    SEASONAL = "SEASONAL"  # HC/HP × winter/summer
    ZEN_FLEX = "ZEN_FLEX"  # HC/HP × Éco/Sobriété days (EDF Zen Flex)


# The energy prices each option needs, named as in the project's tariff data file
# (built from ../shared/reference/tariffs/edf-tarif-bleu.json) so a row maps 1:1.
BUCKETS: Mapping[Option, tuple[str, ...]] = MappingProxyType({
    Option.BASE: ("base",),
    Option.HC_HP: ("hc", "hp"),
    Option.TEMPO: ("tempo_blue_hc", "tempo_blue_hp", "tempo_white_hc", "tempo_white_hp",
                   "tempo_red_hc", "tempo_red_hp"),
    Option.EJP: ("ejp_normal", "ejp_peak"),
    Option.BASE_WEEKEND: ("base_weekday", "base_weekend"),
    Option.HC_WEEKEND: ("hc_weekday", "hp_weekday", "weekend_all_day"),
    Option.HC_NUIT_WEEKEND: ("hc", "hp"),
    Option.SEASONAL: ("hc_winter", "hp_winter", "hc_summer", "hp_summer"),
    Option.ZEN_FLEX: ("eco_hc", "eco_hp", "sobriete_hc", "sobriete_hp"),
})

# French names of the buckets, for the pages.
BUCKET_LABELS: Mapping[str, str] = MappingProxyType({
    "base": "Base",
    "hc": "Heures creuses",
    "hp": "Heures pleines",
    "tempo_blue_hc": "Bleu HC", "tempo_blue_hp": "Bleu HP",
    "tempo_white_hc": "Blanc HC", "tempo_white_hp": "Blanc HP",
    "tempo_red_hc": "Rouge HC", "tempo_red_hp": "Rouge HP",
    "ejp_normal": "Heures normales", "ejp_peak": "Pointe mobile",
    "base_weekday": "Semaine", "base_weekend": "Week-end",
    "hc_weekday": "Heures creuses (semaine)", "hp_weekday": "Heures pleines (semaine)",
    "weekend_all_day": "Week-end",
    "hc_winter": "HC hiver", "hp_winter": "HP hiver", "hc_summer": "HC été", "hp_summer": "HP été",
    "eco_hc": "Éco HC", "eco_hp": "Éco HP", "sobriete_hc": "Sobriété HC", "sobriete_hp": "Sobriété HP",
})

# Options that split the day by off-peak hours (the meter's or the offer's, `OffPeakSource`).
# Tempo's are not among them: its HC are 22:00–06:00 by the tariff, whatever the meter
# (tariffs-and-admin.md §2.6; MyElectricalData used the meter's, §3.2 defect 3).
USES_OFFPEAK_HOURS = frozenset({Option.HC_HP, Option.HC_WEEKEND, Option.HC_NUIT_WEEKEND,
                                Option.SEASONAL, Option.ZEN_FLEX})
# Tempo's off-peak hours, 22:00–06:00 (arrêté du 30 octobre 2014, art. 3).
TEMPO_OFFPEAK = (OffPeakRange(22 * 60, 6 * 60),)
# Options that can be priced from one energy figure per day, without a load curve.
DAILY_OPTIONS = frozenset({Option.BASE, Option.BASE_WEEKEND})


class OffPeakSource(StrEnum):
    """Where an offer's off-peak hours come from (the values `models.offers` stores)."""

    NONE = "none"  # the option has none (BASE, EJP, BASE_WEEKEND) or its tariff fixes them (TEMPO)
    CONTRACT = "contract"  # the meter's contract (`Meter.offpeak`), as it stood on each day
    OFFER = "offer"  # fixed by the offer (`OfferSpec.offpeak_ranges`), e.g. Zen Flex


class FixedPer(StrEnum):
    """The unit a fixed part (abonnement) is given in; see `models.costs.engine.fixed_for_day`."""

    YEAR = "year"
    MONTH = "month"


def _decimal(value: object, what: str) -> Decimal:
    # A float price has already lost its exact value (0.1952 is not 0.1952 in binary).
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"{what} must be a finite, non-negative Decimal, not {value!r}")
    return value


@dataclass(frozen=True)
class PricePeriod:
    """The prices of an offer at one subscribed power over [valid_from, valid_to).

    `valid_to` is the first day the prices NO LONGER apply (exclusive, as in `models.offers`
    and its database constraint), None while they still apply: 2025-02-01 → 2025-08-01,
    then 2025-08-01 → None. (The reference tariff file writes the last day, 2025-07-31.)
    `fixed_eur` is the fixed part (abonnement) TTC for one `fixed_per` (year or month).
    `prices` maps every bucket of the offer's option to its € per kWh TTC.
    `ref`, `source` and `status` are carried through to the results untouched, so the
    pages can say which row priced a day and how sure its figures are.
    """

    kva: int
    valid_from: date
    valid_to: date | None
    fixed_eur: Decimal
    fixed_per: FixedPer
    prices: Mapping[str, Decimal]
    ref: str | int | None = None
    source: str = ""
    status: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.kva, bool) or not isinstance(self.kva, int) or not 1 <= self.kva <= 36:
            raise ValueError(f"kVA must be an integer from 1 to 36, not {self.kva!r}")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"price period ends ({self.valid_to}, exclusive) before it starts ({self.valid_from})")
        _decimal(self.fixed_eur, "fixed part")
        object.__setattr__(self, "fixed_per", FixedPer(self.fixed_per))
        prices = {str(k): _decimal(v, f"price {k!r}") for k, v in dict(self.prices).items()}
        object.__setattr__(self, "prices", MappingProxyType(prices))

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class OfferSpec:
    """An offer as the engine sees it: its option, its rules and its price history.

    `key` is the caller's stable identifier (a database id, a code); `name` is shown.
    `offpeak_source`/`offpeak_ranges`: where the HC/HP split comes from, for the options of
    `USES_OFFPEAK_HOURS` (ranges in wall-clock minutes, `models.offpeak.OffPeakRange`,
    parsed once by `parse_offpeak_hours`). Left None, it is the meter's contract for those
    options and NONE for the others. TEMPO may say OFFER with 22:00–06:00, as the
    catalogue stores it; any other hours are refused, since the tariff fixes them.
    `holidays_as_weekend`: French public holidays are priced as weekend days (weekend
    options only; sources disagree for Zen Week-End, tariffs-and-admin.md §2.5, so the
    offer says).
    `winter_months`: the months priced at winter prices (SEASONAL only).
    """

    key: str
    name: str
    option: Option
    periods: tuple[PricePeriod, ...]
    offpeak_source: OffPeakSource | None = None
    offpeak_ranges: tuple[OffPeakRange, ...] = ()
    holidays_as_weekend: bool = False
    winter_months: frozenset[int] = frozenset({11, 12, 1, 2, 3})

    def __post_init__(self) -> None:
        option = Option(self.option)
        object.__setattr__(self, "option", option)
        uses_hours = option in USES_OFFPEAK_HOURS
        source = OffPeakSource(self.offpeak_source or (OffPeakSource.CONTRACT if uses_hours else OffPeakSource.NONE))
        ranges = tuple(self.offpeak_ranges)
        if option is Option.TEMPO and source is OffPeakSource.OFFER and ranges == TEMPO_OFFPEAK:
            source, ranges = OffPeakSource.NONE, ()  # the tariff's own hours: rules.py applies them
        object.__setattr__(self, "offpeak_source", source)
        object.__setattr__(self, "offpeak_ranges", ranges)
        object.__setattr__(self, "periods", tuple(sorted(self.periods, key=lambda p: (p.kva, p.valid_from))))
        if (source is OffPeakSource.OFFER) != bool(ranges):
            raise ValueError(f"offer {self.key}: off-peak hours are given exactly when the offer fixes them")
        if uses_hours == (source is OffPeakSource.NONE):
            raise ValueError(f"offer {self.key}: option {option} cannot take its off-peak hours from {source}")
        if self.holidays_as_weekend and option not in (Option.BASE_WEEKEND, Option.HC_WEEKEND, Option.HC_NUIT_WEEKEND):
            raise ValueError(f"offer {self.key}: option {option} has no weekend price")
        if not self.winter_months <= frozenset(range(1, 13)):
            raise ValueError(f"offer {self.key}: winter months must be 1..12")
        wanted = set(BUCKETS[option])
        for period in self.periods:
            if set(period.prices) != wanted:
                raise ValueError(f"offer {self.key}, {period.kva} kVA from {period.valid_from}: prices "
                                 f"{sorted(period.prices)} do not match option {option} {sorted(wanted)}")
        for a, b in zip(self.periods, self.periods[1:]):
            # Two prices for one day: the engine would have to pick one, so refuse the offer.
            if a.kva == b.kva and (a.valid_to is None or a.valid_to > b.valid_from):
                raise ValueError(f"offer {self.key}: price periods overlap at {a.kva} kVA from {b.valid_from}")

    def periods_at(self, kva: int) -> tuple[PricePeriod, ...]:
        return tuple(p for p in self.periods if p.kva == kva)


@dataclass(frozen=True)
class OffPeakHistory:
    """A meter's off-peak hours over time: `(valid_from, ranges)` entries.

    Each entry applies from its day (the day the contract was first seen with it) until the
    next entry. An entry with no ranges means a single-rate contract.

    Before the first entry nothing is known. By default those days are reported unknown
    (`Unpriced.OFFPEAK_UNKNOWN`). With `assume_earliest`, they take the first entry's
    ranges and each such day says so (`Assumed.OFFPEAK_ASSUMED`), which the pages show:
    Relevé first sees a contract when the household connects, so without this an HC offer
    could price nothing of the two years of history before (`models.offpeak_history`
    takes the same view).
    """

    entries: tuple[tuple[date, tuple[OffPeakRange, ...]], ...] = ()
    assume_earliest: bool = False

    def __post_init__(self) -> None:
        entries = tuple(sorted((d, tuple(r)) for d, r in self.entries))
        if len({d for d, _ in entries}) != len(entries):
            raise ValueError("two off-peak schedules start on the same day")
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "_days", [d for d, _ in entries])

    def at(self, day: date) -> tuple[OffPeakRange, ...] | None:
        """The ranges in force on `day`; before the first entry, the first one's when assumed, else None."""
        i = bisect.bisect_right(self._days, day) - 1  # type: ignore[attr-defined]
        if i >= 0:
            return self.entries[i][1]
        return self.entries[0][1] if self.assume_earliest and self.entries else None

    def assumed(self, day: date) -> bool:
        """Whether `at(day)` is the earliest schedule stretched back (a day before any entry)."""
        return self.assume_earliest and bool(self.entries) and day < self.entries[0][0]

    @property
    def any_offpeak(self) -> bool:
        return any(ranges for _, ranges in self.entries)


@dataclass(frozen=True)
class Meter:
    """The meter being priced: its subscribed power and its off-peak hours over time."""

    kva: int
    offpeak: OffPeakHistory = field(default_factory=OffPeakHistory)


@dataclass(frozen=True)
class MarkedDays:
    """A yes/no day calendar (EJP days, Sobriété days, public holidays) with what it knows.

    A day inside one of the `known` spans is marked when it is in `days`, unmarked
    otherwise; a day outside every span is unknown (`status` returns None), and the engine
    reports its energy as unpriced instead of guessing (tariffs-and-admin.md §3.2 defect 5:
    MyElectricalData made up EJP and Sobriété days from Tempo colours).
    """

    days: frozenset[date] = frozenset()
    known: tuple[tuple[date, date], ...] = ()  # inclusive [first, last] spans

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        object.__setattr__(self, "known", tuple(sorted(self.known)))
        for first, last in self.known:
            if last < first:
                raise ValueError(f"calendar span ends ({last}) before it starts ({first})")
        stray = [d for d in self.days if not any(a <= d <= b for a, b in self.known)]
        if stray:
            raise ValueError(f"marked days outside the known spans: {sorted(stray)[:3]}")

    @classmethod
    def complete(cls, days: Iterable[date], first: date, last: date) -> MarkedDays:
        """A calendar that knows every day of [first, last]."""
        return cls(frozenset(days), ((first, last),))

    def status(self, day: date) -> bool | None:
        if day in self.days:
            return True
        for first, last in self.known:
            if first <= day <= last:
                return False
        return None


def french_public_holidays(first_year: int, last_year: int) -> MarkedDays:
    """French public holidays (metropolitan list of the `holidays` package) for whole years."""
    import holidays  # computed, not fetched: no I/O

    years = range(first_year, last_year + 1)
    return MarkedDays.complete(holidays.France(years=years).keys(), date(first_year, 1, 1), date(last_year, 12, 31))


# EJP days fall between 1 November and 31 March only (arrêté du 30 octobre 2014, article 3,
# tariffs-and-admin.md §2.6): April to October is known to have none, whatever the calendar.
EJP_MONTHS = frozenset({11, 12, 1, 2, 3})


@dataclass(frozen=True)
class Calendars:
    """The day calendars an offer may need; anything absent is unknown, never guessed.

    `tempo`: the colour of each Tempo day ("BLUE", "WHITE", "RED", as RTE and
    `models.grid.tempo` spell them), keyed by the day the Tempo day starts at 06:00.
    `ejp`: EJP ("pointe mobile") days. `sobriete`: EDF Sobriété days (Zen Flex).
    `holidays`: public holidays (`french_public_holidays`), for offers that price them
    as weekend days.
    """

    tempo: Mapping[date, str] = field(default_factory=dict)
    ejp: MarkedDays = field(default_factory=MarkedDays)
    sobriete: MarkedDays = field(default_factory=MarkedDays)
    holidays: MarkedDays = field(default_factory=MarkedDays)

    def __post_init__(self) -> None:
        wrong = {c for c in self.tempo.values() if c not in TEMPO_COLOURS}
        if wrong:
            raise ValueError(f"unknown Tempo colours {sorted(wrong)}")
        object.__setattr__(self, "tempo", MappingProxyType(dict(self.tempo)))
        summer = sorted(d for d in self.ejp.days if d.month not in EJP_MONTHS)
        if summer:
            raise ValueError(f"EJP days fall between 1 November and 31 March, not on {summer[0]}")

    def ejp_day(self, day: date) -> bool | None:
        if day.month not in EJP_MONTHS:
            return False
        return self.ejp.status(day)


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One load-curve reading: average power `watts` over the `minutes` ending at `end`.

    `end` is timezone-aware: Enedis labels each interval by its END in naive Paris time
    (upstream-apis.md); `pipeline.clients.enedis.resolve_local` turns that label into an
    aware instant, keeping the repeated hour of the autumn night.
    """

    end: datetime
    minutes: int
    watts: int

    def __post_init__(self) -> None:
        if self.end.tzinfo is None or self.end.utcoffset() is None:
            raise ValueError(f"load-curve end {self.end} has no time zone")
        if isinstance(self.minutes, bool) or not isinstance(self.minutes, int) or not 1 <= self.minutes <= 60:
            raise ValueError(f"interval length must be 1 to 60 minutes, not {self.minutes!r}")
        if isinstance(self.watts, bool) or not isinstance(self.watts, int) or self.watts < 0:
            raise ValueError(f"power must be a non-negative integer of W, not {self.watts!r}")

    @property
    def start(self) -> datetime:
        # Aware arithmetic inside one tz is wall-clock arithmetic in Python: go through UTC,
        # or the interval ending at 03:00 on the spring-forward night would start at 02:30.
        return (self.end.astimezone(UTC) - timedelta(minutes=self.minutes)).astimezone(self.end.tzinfo)
