"""Off-peak hours from an Enedis contract: the one parser, used everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

# "HC (22H00-6H00)", "HC (23h00-7h30)", "HC (1H30-8H00;12H30-14H00)": hours not zero-padded,
# H in either case, ranges separated by ";", a range may cross midnight.
_RANGE = re.compile(r"(\d{1,2})\s*[Hh:]\s*(\d{2})?\s*-\s*(\d{1,2})\s*[Hh:]\s*(\d{2})?")


@dataclass(frozen=True, order=True)
class OffPeakRange:
    """[start, end) in local wall-clock minutes since midnight; end < start crosses midnight."""

    start: int
    end: int

    @property
    def minutes(self) -> int:
        return (self.end - self.start) % 1440 or 1440

    def contains(self, minute_of_day: int) -> bool:
        if self.start <= self.end:
            return self.start <= minute_of_day < self.end
        return minute_of_day >= self.start or minute_of_day < self.end

    def label(self) -> str:
        return f"{_fmt(self.start)}–{_fmt(self.end)}"


def _fmt(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}"


class OffPeakParseError(ValueError):
    """The text holds no off-peak range we can read."""


def parse_offpeak_hours(text: str | None) -> tuple[OffPeakRange, ...]:
    """Ranges of an Enedis `offpeak_hours` string; empty for a single-rate contract (None/"")."""
    if text is None or not text.strip():
        return ()
    ranges = []
    for match in _RANGE.finditer(text):
        h1, m1, h2, m2 = match.groups()
        start, end = int(h1) * 60 + int(m1 or 0), int(h2) * 60 + int(m2 or 0)
        if not (0 <= start <= 1440 and 0 <= end <= 1440) or start == end:
            raise OffPeakParseError(f"invalid off-peak range {match.group(0)!r} in {text!r}")
        ranges.append(OffPeakRange(start % 1440, end % 1440))
    if not ranges:
        raise OffPeakParseError(f"no off-peak range in {text!r}")
    return tuple(sorted(ranges))


def is_offpeak(ranges: tuple[OffPeakRange, ...], at: datetime | time) -> bool:
    """Whether a local wall-clock time falls in off-peak hours."""
    minute = at.hour * 60 + at.minute
    return any(r.contains(minute) for r in ranges)


def offpeak_minutes(ranges: tuple[OffPeakRange, ...], start: datetime | time, minutes: int) -> int:
    """Minutes of an interval of `minutes` starting at local wall-clock `start` that are off-peak."""
    s = start.hour * 60 + start.minute
    e = s + minutes  # may run past midnight: ranges are unrolled over two days below
    total = 0
    for r in ranges:
        pieces = [(r.start, r.end)] if r.start < r.end else [(r.start, 1440), (0, r.end)]
        for a, b in pieces:
            for shift in (0, 1440):
                total += max(0, min(e, b + shift) - max(s, a + shift))
    return total
