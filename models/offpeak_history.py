"""A meter's off-peak hours over time, so that a 2025 day is priced with the 2025 schedule.

The contract (with its `offpeak_hours`) stays in the cache; what PostgreSQL keeps is one row
per schedule a point was seen with: the Paris day it was first seen, and its ranges in minutes
(`models.offpeak` reads them, minutes kept). A change adds a row; seeing the same schedule again
changes nothing. A contract without off-peak hours (single rate) is a row with no ranges.

The rows belong to the point (`usage_points.id`): a point that changes hands is a new point,
and the previous holder's history goes with the old one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, SmallInteger, String, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.costs.inputs import Meter, OffPeakHistory
from models.offpeak import OffPeakParseError, OffPeakRange, parse_offpeak_hours
from models.usage_points import UsagePoint

log = logging.getLogger(__name__)


class OffPeakSchedule(Base):
    __tablename__ = "offpeak_schedules"
    __table_args__ = (
        CheckConstraint("cardinality(ranges) % 2 = 0 AND 0 <= ALL (ranges) AND 1439 >= ALL (ranges)",
                        name="ranges_in_minutes"),
    )

    point_id: Mapped[int] = mapped_column(ForeignKey("usage_points.id", ondelete="CASCADE"), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)  # the Paris day it was first seen
    # Flattened [start, end, start, end…] in minutes since local midnight; end < start crosses midnight.
    ranges: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    source_text: Mapped[str | None] = mapped_column(String(200))  # the contract's text, as Enedis wrote it
    seen_at: Mapped[datetime] = mapped_column(server_default=func.now())


def flatten(ranges: tuple[OffPeakRange, ...]) -> list[int]:
    return [m for r in ranges for m in (r.start, r.end)]


def unflatten(values: list[int]) -> tuple[OffPeakRange, ...]:
    return tuple(OffPeakRange(values[i], values[i + 1]) for i in range(0, len(values), 2))


@dataclass(frozen=True)
class ScheduleInForce:
    """The off-peak ranges of a point on a day.

    `valid_from` is the day that schedule was first seen. `assumed` is True when the day is older than
    the first schedule ever seen: nothing older is known, so the oldest one is taken, and the pages
    say so. Empty `ranges`: a single-rate contract.
    """

    ranges: tuple[OffPeakRange, ...]
    valid_from: date
    valid_to: date | None  # exclusive: the day the next schedule was first seen
    source_text: str | None
    assumed: bool


def record_offpeak(session: Session, point_id: int, text: str | None, seen_on: date) -> bool:
    """Record the contract's `offpeak_hours` seen on `seen_on` for a point; True when that added a row.

    Idempotent: the schedule in force that day, if the same, changes nothing (nor does seeing it again
    later). A schedule seen before an existing row of the same point (a task replayed late) takes that
    row's place when they differ. Text the parser cannot read is logged and not recorded. The point
    is locked, so two tasks seeing one contract write it once; a point deleted meanwhile is skipped.
    """
    try:
        ranges = flatten(parse_offpeak_hours(text))
    except OffPeakParseError:
        log.warning("point %s: off-peak hours not recorded, unreadable", point_id)
        return False
    if session.get(UsagePoint, point_id, with_for_update=True) is None:
        return False
    rows = list(session.scalars(select(OffPeakSchedule).where(OffPeakSchedule.point_id == point_id)
                                .order_by(OffPeakSchedule.valid_from)))
    before = [r for r in rows if r.valid_from <= seen_on]
    if before and before[-1].ranges == ranges:
        return False
    same_day = before[-1] if before and before[-1].valid_from == seen_on else None
    if same_day is not None:  # seen twice the same day with different hours: the later sighting wins
        same_day.ranges, same_day.source_text = ranges, text
        return True
    later = [r for r in rows if r.valid_from > seen_on]
    if later and later[0].ranges == ranges:  # the same schedule, seen earlier than we knew: move it back
        later[0].valid_from, later[0].source_text = seen_on, text
        return True
    session.add(OffPeakSchedule(point_id=point_id, valid_from=seen_on, ranges=ranges, source_text=text))
    return True


def offpeak_history(session: Session, point_id: int) -> list[ScheduleInForce]:
    """Every schedule of a point, oldest first, each with the day the next one took over."""
    rows = list(session.scalars(select(OffPeakSchedule).where(OffPeakSchedule.point_id == point_id)
                                .order_by(OffPeakSchedule.valid_from)))
    return [ScheduleInForce(unflatten(r.ranges), r.valid_from, rows[i + 1].valid_from if i + 1 < len(rows) else None,
                            r.source_text, False) for i, r in enumerate(rows)]


def schedule_on(history: list[ScheduleInForce], day: date) -> ScheduleInForce | None:
    """The schedule in force on `day` among `history` (from `offpeak_history`); None when nothing was ever seen."""
    if not history:
        return None
    current = None
    for schedule in history:
        if schedule.valid_from <= day:
            current = schedule
    if current is None:  # older than anything seen: the oldest known, flagged
        first = history[0]
        return ScheduleInForce(first.ranges, first.valid_from, first.valid_to, first.source_text, True)
    return current


def offpeak_on(session: Session, point_id: int, day: date) -> ScheduleInForce | None:
    """The off-peak schedule of a point in force on `day` (see `ScheduleInForce.assumed`)."""
    return schedule_on(offpeak_history(session, point_id), day)


def engine_offpeak(session: Session, point_id: int, *, assume_earliest: bool = True) -> OffPeakHistory:
    """A point's schedules as the cost engine takes them (`models.costs.inputs.OffPeakHistory`). With
    `assume_earliest`, days before the first schedule seen take it, each flagged by the engine."""
    return OffPeakHistory(tuple((s.valid_from, s.ranges) for s in offpeak_history(session, point_id)),
                          assume_earliest=assume_earliest)


def engine_meter(session: Session, point_id: int, kva: int, *, assume_earliest: bool = True) -> Meter:
    """The meter as the cost engine takes it: its subscribed power (from the contract) and off-peak history."""
    return Meter(kva=kva, offpeak=engine_offpeak(session, point_id, assume_earliest=assume_earliest))
