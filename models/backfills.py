"""A point's backfill, durable: the windows planned and which are done (readings stay in Valkey).

Valkey holds the readings (for `CACHE_TTL_SECONDS`), the queue and the dedupe claims, and it may
lose them all (a restart without its append-only file). What was planned and what is done lives
here, with the point, so a backfill reaches its end whatever Valkey forgot, and a finished one is
never started over because its readings expired. The recovery check (pipeline/backfill.py) reads
`stalled()` to take over backfills that stopped moving.

Functions work in the caller's session and do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, case, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.usage_points import UsagePoint

Window = tuple[str, date, date]  # (series, first day, day after the last)


class Backfill(Base):
    """One point's backfill: how many windows are planned and done, and when it last moved."""

    __tablename__ = "backfills"

    point_id: Mapped[int] = mapped_column(ForeignKey("usage_points.id", ondelete="CASCADE"), primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    planned_at: Mapped[datetime]
    moved_at: Mapped[datetime]  # the plan was made, a window was done, or the recovery check took it over
    resumed_at: Mapped[datetime | None]
    resumes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    finished_at: Mapped[datetime | None]


class BackfillWindow(Base):
    """One window of a backfill; `done_at` is set once it is in the cache (or known to hold nothing)."""

    __tablename__ = "backfill_windows"

    point_id: Mapped[int] = mapped_column(ForeignKey("backfills.point_id", ondelete="CASCADE"), primary_key=True)
    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    start_day: Mapped[date] = mapped_column(primary_key=True)
    end_day: Mapped[date] = mapped_column(primary_key=True)
    done_at: Mapped[datetime | None]
    # The run fetching it now (its task id) and since when: a second copy of its message waits (`claim`).
    fetching_by: Mapped[str | None] = mapped_column(String(200))
    fetching_since: Mapped[datetime | None]


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    finished: bool

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "done": self.done}


def record_plan(session: Session, point_id: int, windows: list[Window], now: datetime) -> Progress:
    """Record the plan of a point's backfill. Windows already done stay done (onboarding that runs twice
    counts nothing twice); windows the new plan no longer has are dropped."""
    row = session.get(Backfill, point_id, with_for_update=True)
    if row is None:
        row = Backfill(point_id=point_id, total=0, done=0, planned_at=now, moved_at=now)
        session.add(row)
        session.flush()
    if windows:
        session.execute(insert(BackfillWindow).values([
            {"point_id": point_id, "series": s, "start_day": a, "end_day": b} for s, a, b in windows
        ]).on_conflict_do_nothing())
    keys = [(s, a, b) for s, a, b in windows]
    stale = delete(BackfillWindow).where(BackfillWindow.point_id == point_id)
    if keys:
        stale = stale.where(tuple_(BackfillWindow.series, BackfillWindow.start_day, BackfillWindow.end_day)
                            .not_in(keys))
    session.execute(stale)
    done = session.scalar(select(func.count()).where(BackfillWindow.point_id == point_id,
                                                     BackfillWindow.done_at.is_not(None)))
    row.total, row.done, row.planned_at, row.moved_at = len(windows), done, now, now
    row.finished_at = now if done >= len(windows) else None
    return Progress(row.total, row.done, row.finished_at is not None)


def window_done(session: Session, point_id: int, series: str, start: date, end: date) -> bool:
    """Whether this window of the point's backfill is done (False for a window of no recorded plan)."""
    return bool(session.scalar(select(BackfillWindow.done_at.is_not(None)).where(
        BackfillWindow.point_id == point_id, BackfillWindow.series == series,
        BackfillWindow.start_day == start, BackfillWindow.end_day == end)))


def claim(session: Session, point_id: int, series: str, start: date, end: date, me: str, now: datetime,
          lease: timedelta) -> tuple[str, float]:
    """Claim a window for the run `me` before it calls upstream; commit at once.

    Returns ("claimed", 0) — also when `me` holds it already (its run was interrupted and runs again) or
    the holder's lease ran out (a run cannot outlive the task's hard time limit) —, ("done", 0),
    ("busy", seconds left of the holder's lease), or ("unplanned", 0) for a window of no recorded plan.
    The claim lives in PostgreSQL, not in Valkey: a restart of Valkey that loses a lock must never let a
    second run fetch a window the first is fetching.
    """
    row = session.execute(select(BackfillWindow).where(
        BackfillWindow.point_id == point_id, BackfillWindow.series == series, BackfillWindow.start_day == start,
        BackfillWindow.end_day == end).with_for_update()).scalar_one_or_none()
    if row is None:
        return "unplanned", 0.0
    if row.done_at is not None:
        return "done", 0.0
    if row.fetching_by not in (None, me) and row.fetching_since is not None and now - row.fetching_since < lease:
        return "busy", (lease - (now - row.fetching_since)).total_seconds()
    row.fetching_by, row.fetching_since = me, now
    return "claimed", 0.0


def release(session: Session, point_id: int, series: str, start: date, end: date, me: str) -> None:
    """The run `me` is no longer fetching the window (done or failed)."""
    session.execute(update(BackfillWindow).where(
        BackfillWindow.point_id == point_id, BackfillWindow.series == series, BackfillWindow.start_day == start,
        BackfillWindow.end_day == end, BackfillWindow.fetching_by == me).values(fetching_by=None,
                                                                                fetching_since=None))


def mark_done(session: Session, point_id: int, series: str, start: date, end: date, now: datetime) -> bool:
    """Record that a window is done; True the first time (a window run twice counts once)."""
    marked = session.execute(update(BackfillWindow).where(
        BackfillWindow.point_id == point_id, BackfillWindow.series == series, BackfillWindow.start_day == start,
        BackfillWindow.end_day == end, BackfillWindow.done_at.is_(None)).values(done_at=now)).rowcount
    if marked:
        session.execute(update(Backfill).where(Backfill.point_id == point_id).values(
            done=Backfill.done + 1, moved_at=now,
            finished_at=case((Backfill.done + 1 >= Backfill.total, func.coalesce(Backfill.finished_at, now)),
                             else_=None)))
    return bool(marked)


def missing_windows(session: Session, point_id: int) -> list[Window]:
    """The windows of a point's backfill that are not done yet, newest first."""
    rows = session.execute(select(BackfillWindow.series, BackfillWindow.start_day, BackfillWindow.end_day)
                           .where(BackfillWindow.point_id == point_id, BackfillWindow.done_at.is_(None))
                           .order_by(BackfillWindow.end_day.desc(), BackfillWindow.series)).all()
    return [tuple(r) for r in rows]


def progress_of(session: Session, point_ids: Iterable[int]) -> dict[int, Progress]:
    """Progress of the backfills of these points (a point with no recorded backfill is absent)."""
    ids = list(point_ids)
    if not ids:
        return {}
    rows = session.execute(select(Backfill.point_id, Backfill.total, Backfill.done, Backfill.finished_at)
                           .where(Backfill.point_id.in_(ids))).all()
    return {pid: Progress(total, done, finished is not None) for pid, total, done, finished in rows}


def unfinished(session: Session) -> list[tuple[int, datetime]]:
    """(point id, last moved) of every unfinished backfill of an active point, oldest move first."""
    last = func.greatest(Backfill.moved_at, func.coalesce(Backfill.resumed_at, Backfill.moved_at))
    return [tuple(r) for r in session.execute(
        select(Backfill.point_id, last).join(UsagePoint, UsagePoint.id == Backfill.point_id)
        .where(Backfill.finished_at.is_(None), UsagePoint.status == "active").order_by(last)).all()]


def last_move(session: Session) -> datetime | None:
    """When any backfill last moved (a window done, a plan made)."""
    return session.scalar(select(func.max(Backfill.moved_at)))


def record_resume(session: Session, point_id: int, now: datetime) -> None:
    """The recovery check enqueued the missing windows of a point's backfill again."""
    session.execute(update(Backfill).where(Backfill.point_id == point_id)
                    .values(resumed_at=now, resumes=Backfill.resumes + 1))



def forget_done(session: Session, point_id: int, windows: list[Window]) -> None:
    """These windows are not done any more (their readings were lost with Valkey): fetch them again."""
    if not windows:
        return
    session.execute(update(BackfillWindow).where(
        BackfillWindow.point_id == point_id,
        tuple_(BackfillWindow.series, BackfillWindow.start_day, BackfillWindow.end_day).in_(windows))
        .values(done_at=None))
    done = session.scalar(select(func.count()).where(BackfillWindow.point_id == point_id,
                                                     BackfillWindow.done_at.is_not(None)))
    session.execute(update(Backfill).where(Backfill.point_id == point_id).values(
        done=done, finished_at=case((Backfill.total <= done, Backfill.finished_at), else_=None)))
