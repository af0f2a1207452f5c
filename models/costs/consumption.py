"""The energy side of the engine: a load curve (or daily energy) summed once per day.

Every offer is priced from the same `Consumption`, built once: the per-offer work is then a
handful of look-ups per day, not one per half-hour (the issue's performance target).

Energy is counted in integer watt-minutes (W·min): a reading of W watts over m minutes is
W × m W·min, exactly, whatever the interval length (10, 15, 30 or 60 minutes), and an
interval shared between two buckets splits into two integers. 60,000 W·min = 1 kWh.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from models.calendar import PARIS, day_minutes
from models.costs.inputs import CurvePoint
from models.daypack import CurveDay

WMIN_PER_KWH = 60_000
WMIN_PER_WH = 60
DAY = 1440  # wall-clock minutes in a day's clock face (the day itself may last 1380 or 1500)


def kwh(wmin: int) -> Decimal:
    """W·min → kWh, exact to the W·min (a Decimal; round only to show it)."""
    return Decimal(wmin) / WMIN_PER_KWH


class DayEnergy:
    """One Paris calendar day of readings, as a function of the wall clock.

    `before(m)` is the energy (W·min) of the day's readings that fall before wall-clock
    minute m, so the energy of any wall-clock span [a, b) is before(b) − before(a): a
    bucket made of a few spans costs a few look-ups.

    A reading belongs to the day of its START and covers the wall-clock minutes
    [start, start + length): an Enedis point labelled 22:00 is 21:30–22:00, all of it before
    22:00 (tariffs-and-admin.md §3.2 defect 1: MyElectricalData took the label for the
    start, so that point became off-peak and the 00:00 point fell into the next day). When
    a range boundary falls inside an interval (a 60-minute reading against "22h30"), the
    interval is shared pro rata of its minutes, as `models.readings.split_offpeak` shares
    it; on half-hour data every boundary falls between intervals and each interval goes
    whole to the bucket of its start.

    On the autumn night the wall clock shows 02:00–03:00 twice: both hours' readings sit on
    the same minutes and both count (defect 8: MyElectricalData dropped one). On the spring
    night 02:00–03:00 does not exist and simply holds nothing.
    """

    __slots__ = ("day", "minutes", "covered", "total", "_starts", "_ends", "_watts", "_cum", "_overlap")

    def __init__(self, day: date, minutes: int, intervals: Sequence[tuple[int, int, int]],
                 total: int | None = None, covered: int | None = None):
        self.day = day
        self.minutes = minutes  # the day's length: 1380, 1440 or 1500
        ordered = sorted(intervals)  # (wall start, length, watts)
        starts, ends, watts, cum = [], [], [], [0]
        for s, n, w in ordered:
            starts.append(s)
            ends.append(s + n)
            watts.append(w)
            cum.append(cum[-1] + n * w)
        self._starts, self._ends, self._watts, self._cum = starts, ends, watts, cum
        self.covered = sum(e - s for s, e in zip(starts, ends)) if covered is None else covered  # minutes read
        self.total = cum[-1] if total is None else total  # W·min
        self._overlap = any(b < a for a, b in zip(self._ends, self._starts[1:]))

    @property
    def missing_minutes(self) -> int:
        return max(0, self.minutes - self.covered)

    def before(self, minute: int) -> int:
        """W·min of the readings before wall-clock `minute` (the whole day from minute 1440)."""
        if minute >= DAY:
            return self.total  # also takes in the odd interval that runs past midnight
        if minute <= 0:
            return 0
        if self._overlap:  # the autumn night: two readings on the same wall-clock minutes
            return sum(w * min(max(minute - s, 0), e - s) for s, e, w in zip(self._starts, self._ends, self._watts))
        i = bisect.bisect_right(self._starts, minute) - 1
        if i < 0:
            return 0
        return self._cum[i] + self._watts[i] * min(minute - self._starts[i], self._ends[i] - self._starts[i])


@dataclass(frozen=True)
class Consumption:
    """A meter's energy over [first, last], per day, ready to be priced by any offer.

    `curve` is True for a load curve, False for one energy figure per day (daily energy,
    which only the options of `models.costs.inputs.DAILY_OPTIONS` can be priced from).
    `dropped_points` counts readings left out because they repeated or overlapped another
    (same instant twice, or two lengths covering the same time): the first one is kept.
    """

    first: date
    last: date
    curve: bool
    days: Mapping[date, DayEnergy]
    dropped_points: int = 0

    @classmethod
    def from_curve(cls, points: Iterable[CurvePoint], first: date, last: date) -> Consumption:
        """Sum a load curve per Paris day of each interval's start; points outside [first, last] are ignored."""
        if last < first:
            raise ValueError(f"period ends ({last}) before it starts ({first})")
        # Integer UTC seconds, not datetimes: this loop runs once per reading (17,520 a year),
        # and Paris's offset is looked up once a day, or per reading on the two DST days.
        timed = sorted((int(p.end.timestamp()) - p.minutes * 60, p.minutes, p.watts) for p in points)
        per_day: dict[date, list[tuple[int, int, int]]] = {}
        dropped, previous_end = 0, None
        day_lo = day_hi = 0
        bucket: list | None = None
        exact = False
        for start, minutes, watts in timed:
            if previous_end is not None and start < previous_end:
                dropped += 1  # the same time twice (or two lengths over it): keep the first
                continue
            previous_end = start + minutes * 60
            if not day_lo <= start < day_hi:
                day = datetime.fromtimestamp(start, PARIS).date()
                day_lo, day_hi = _midnight(day), _midnight(day + timedelta(days=1))
                exact = day_hi - day_lo != 86400  # a DST day: the wall clock jumps inside it
                bucket = per_day.setdefault(day, []) if first <= day <= last else None
            if bucket is None:
                continue
            if exact:
                local = datetime.fromtimestamp(start, PARIS)
                minute = local.hour * 60 + local.minute
            else:
                minute = (start - day_lo) // 60
            bucket.append((minute, minutes, watts))
        days = {d: DayEnergy(d, day_minutes(d), per_day.get(d, ())) for d in _days(first, last)}
        return cls(first, last, True, days, dropped)

    @classmethod
    def from_daily(cls, daily_wh: Mapping[date, int | None], first: date, last: date) -> Consumption:
        """Energy per day in Wh (None or absent: no figure for that day)."""
        if last < first:
            raise ValueError(f"period ends ({last}) before it starts ({first})")
        days = {}
        for d in _days(first, last):
            wh = daily_wh.get(d)
            if wh is not None and (isinstance(wh, bool) or not isinstance(wh, int) or wh < 0):
                raise ValueError(f"daily energy of {d} must be a non-negative integer of Wh, not {wh!r}")
            minutes = day_minutes(d)
            # A daily figure covers the whole day but cannot say when in it: before(m) is
            # only meaningful for m = 0 and m = 1440, which is all a daily option asks.
            days[d] = (DayEnergy(d, minutes, (), total=wh * WMIN_PER_WH, covered=minutes) if wh is not None
                       else DayEnergy(d, minutes, ()))
        return cls(first, last, False, days, 0)


def _midnight(day: date) -> int:
    """UTC seconds of 00:00 Paris on `day` (midnight always exists: Paris changes at 02:00/03:00)."""
    return int(datetime.combine(day, time(0), PARIS).timestamp())


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def points_from_cache(days: Mapping[date, Sequence[Mapping[str, Any]] | None]) -> list[CurvePoint]:
    """Load-curve points from the cache's per-day entries (`{"start", "minutes", "watts"}`, see
    `models.readings`): the pipeline already turned Enedis's end labels into starts."""
    points = []
    for entries in days.values():
        if isinstance(entries, CurveDay):  # the compact cache format: the numbers, no text to parse
            points += [CurvePoint(end=datetime.fromtimestamp(start + minutes * 60, UTC), minutes=minutes, watts=watts)
                       for start, minutes, watts in entries.intervals()]
            continue
        for entry in entries or ():
            start = datetime.fromisoformat(entry["start"])  # with its UTC offset, e.g. +01:00
            minutes = int(entry.get("minutes") or 30)
            # A fixed offset has no DST, so adding minutes to it is exact (the end may show
            # +01:00 where Paris already says +02:00: same instant).
            end = start + timedelta(minutes=minutes)
            points.append(CurvePoint(end=end, minutes=minutes, watts=int(entry["watts"])))
    return points


def daily_from_cache(days: Mapping[date, Any]) -> dict[date, int | None]:
    """Daily energy in Wh from the cache's per-day entries (`{"day", "value"}` or None)."""
    return {d: (int(v["value"]) if isinstance(v, Mapping) and v.get("value") is not None else None)
            for d, v in days.items()}
