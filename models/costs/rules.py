"""The tariff rules: which bucket each wall-clock minute of a day falls into, per option.

A rule returns a day's *spans*: `(key, a, b)` covering the clock face [0, 1440) minutes,
where key is a bucket (a price name of `BUCKETS`) or an `Unpriced` reason when the rule
cannot tell (unknown calendar day, unknown off-peak hours), with the assumptions they rest
on (`Assumed`). The engine turns spans into energy with `DayEnergy.before`, so a rule never
looks at a reading.

Each boundary below cites where it comes from and which MyElectricalData error
(tariffs-and-admin.md §3.2) it avoids.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from models.calendar import TEMPO_DAY_STARTS_AT
from models.costs.consumption import DAY
from models.costs.inputs import Calendars, Meter, OfferSpec, OffPeakSource, Option
from models.costs.reasons import Assumed, Unpriced
from models.offpeak import OffPeakRange

Key = str  # a bucket name or an `Unpriced` (a StrEnum, so also a str: test with isinstance)
Span = tuple[Key, int, int]
DayRule = tuple[tuple[Span, ...], frozenset[Assumed]]  # the spans, and what they rest on
NO_ASSUMPTION: frozenset[Assumed] = frozenset()
ASSUMED_OFFPEAK = frozenset({Assumed.OFFPEAK_ASSUMED})

# Tempo: the colour's day runs 06:00 → 06:00 (models.calendar.TEMPO_DAY_STARTS_AT), and its
# off-peak hours are 22:00 → 06:00 whatever the meter's contract (arrêté du 30 octobre 2014,
# art. 3; tariffs-and-admin.md §2.6). So 00:00–06:00 belongs to the previous day's colour:
# MyElectricalData looked colours up by calendar day, and by UTC day (§3.2 defect 3).
TEMPO_DAY_START = TEMPO_DAY_STARTS_AT.hour * 60 + TEMPO_DAY_STARTS_AT.minute  # 360
TEMPO_HC_START = 22 * 60  # 1320
# EJP: the "pointe mobile" runs 07:00 → 01:00 the next day on an EJP day (same arrêté,
# §2.6). So 00:00–01:00 belongs to the previous day's EJP status. MyElectricalData priced
# the first 20 red Tempo days at peak all day instead (§3.2 defect 5).
EJP_PEAK_START = 7 * 60  # 420
EJP_PEAK_END_NEXT_DAY = 1 * 60  # 60

_TEMPO = {c: (f"tempo_{c.lower()}_hc", f"tempo_{c.lower()}_hp") for c in ("BLUE", "WHITE", "RED")}


@lru_cache(maxsize=512)
def offpeak_spans(ranges: tuple[OffPeakRange, ...], hc: Key, hp: Key) -> tuple[Span, ...]:
    """The clock face split into `hc` over every off-peak range and `hp` elsewhere.

    Every range counts, to the minute, and a range crossing midnight covers both ends of
    the day (tariffs-and-admin.md §3.2 defect 2: MyElectricalData rounded "22h30" to 22 h,
    read only the first range, and fell back to 22–06 for any hour it did not match).
    """
    pieces = []
    for r in ranges:
        if r.start < r.end:
            pieces.append((r.start, r.end))
        else:  # crosses midnight: the evening part and the early-morning part of the same day
            pieces.append((r.start, DAY))
            if r.end:
                pieces.append((0, r.end))
    spans: list[Span] = []
    at = 0
    for a, b in sorted(pieces):
        if b <= at:
            continue
        if a > at:
            spans.append((hp, at, a))
        spans.append((hc, max(a, at), b))
        at = b
    if at < DAY:
        spans.append((hp, at, DAY))
    return _merge(spans)


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for key, a, b in spans:
        if merged and merged[-1][0] == key and merged[-1][2] == a:
            merged[-1] = (key, merged[-1][1], b)
        else:
            merged.append((key, a, b))
    return tuple(merged)


def _whole(key: Key) -> DayRule:
    return ((key, 0, DAY),), NO_ASSUMPTION


def _offpeak(offer: OfferSpec, meter: Meter, day: date, hc: Key, hp: Key) -> DayRule:
    """HC/HP spans from the offer's fixed hours, or the meter's as they stood on `day`."""
    if offer.offpeak_source is OffPeakSource.OFFER:
        return offpeak_spans(offer.offpeak_ranges, hc, hp), NO_ASSUMPTION
    # The schedule in force that day, not today's: Enedis has moved some HC since November
    # 2025 (tariffs-and-admin.md §2.6), so a 2024 day keeps its 2024 hours.
    ranges = meter.offpeak.at(day)
    if ranges is None:
        return _whole(Unpriced.OFFPEAK_UNKNOWN)
    if not ranges:
        return _whole(Unpriced.NO_OFFPEAK)
    return offpeak_spans(ranges, hc, hp), ASSUMED_OFFPEAK if meter.offpeak.assumed(day) else NO_ASSUMPTION


def _weekend(offer: OfferSpec, calendars: Calendars, day: date) -> bool | Unpriced:
    """Saturday and Sunday, and public holidays when the offer says so, as whole calendar days."""
    if day.weekday() >= 5:
        return True
    if not offer.holidays_as_weekend:
        return False
    holiday = calendars.holidays.status(day)
    return Unpriced.HOLIDAY_UNKNOWN if holiday is None else holiday


def _tempo(calendars: Calendars, day: date) -> DayRule:
    night = calendars.tempo.get(day - timedelta(days=1))  # 00:00–06:00: yesterday's Tempo day
    colour = calendars.tempo.get(day)  # 06:00–24:00: today's
    hc_night = _TEMPO[night][0] if night else Unpriced.TEMPO_UNKNOWN
    hc, hp = _TEMPO[colour] if colour else (Unpriced.TEMPO_UNKNOWN, Unpriced.TEMPO_UNKNOWN)
    spans = [(hc_night, 0, TEMPO_DAY_START), (hp, TEMPO_DAY_START, TEMPO_HC_START), (hc, TEMPO_HC_START, DAY)]
    return _merge(spans), NO_ASSUMPTION


def _ejp(calendars: Calendars, day: date) -> DayRule:
    def peak_or_normal(ejp_day: bool | None) -> Key:
        return Unpriced.EJP_UNKNOWN if ejp_day is None else ("ejp_peak" if ejp_day else "ejp_normal")

    return _merge([
        (peak_or_normal(calendars.ejp_day(day - timedelta(days=1))), 0, EJP_PEAK_END_NEXT_DAY),
        ("ejp_normal", EJP_PEAK_END_NEXT_DAY, EJP_PEAK_START),
        (peak_or_normal(calendars.ejp_day(day)), EJP_PEAK_START, DAY),
    ]), NO_ASSUMPTION


def day_spans(offer: OfferSpec, meter: Meter, calendars: Calendars, day: date) -> DayRule:
    """The buckets of each wall-clock minute of `day` under `offer`, and what that rests on."""
    option = offer.option
    if option is Option.BASE:
        return _whole("base")
    if option is Option.HC_HP:
        return _offpeak(offer, meter, day, "hc", "hp")
    if option is Option.TEMPO:
        return _tempo(calendars, day)
    if option is Option.EJP:
        return _ejp(calendars, day)
    if option is Option.SEASONAL:
        season = "winter" if day.month in offer.winter_months else "summer"
        return _offpeak(offer, meter, day, f"hc_{season}", f"hp_{season}")
    if option is Option.ZEN_FLEX:
        # Sobriété days are EDF's own calendar, not red Tempo days (§3.2 defect 5), and the
        # HC are the offer's (00–08, 13–18, 20–24 per tariffs-and-admin.md §2.5), not the
        # meter's: the offer's spec carries them (`OffPeakSource.OFFER`).
        sobriete = calendars.sobriete.status(day)
        if sobriete is None:
            return _whole(Unpriced.SOBRIETE_UNKNOWN)
        kind = "sobriete" if sobriete else "eco"
        return _offpeak(offer, meter, day, f"{kind}_hc", f"{kind}_hp")
    weekend = _weekend(offer, calendars, day)
    if isinstance(weekend, Unpriced):
        return _whole(weekend)
    if option is Option.BASE_WEEKEND:
        return _whole("base_weekend" if weekend else "base_weekday")
    if option is Option.HC_WEEKEND:
        return _whole("weekend_all_day") if weekend else _offpeak(offer, meter, day, "hc_weekday", "hp_weekday")
    if option is Option.HC_NUIT_WEEKEND:
        return _whole("hc") if weekend else _offpeak(offer, meter, day, "hc", "hp")
    raise AssertionError(f"no rule for option {option}")  # Option is closed: a new member needs a rule
