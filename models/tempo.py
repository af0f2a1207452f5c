"""Tempo days published by RTE (public data), and an administrator's corrections of them.

`colour` is the colour in force, what every page and cost reads. RTE's own answer is kept
in `rte_colour`; a correction sets `manual_colour`, which wins over whatever RTE says
later (`store_rte_colours`), until it is removed. A correction is audited and shown as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import record, tempo_target
from models.base import Base
from models.grid.tempo import TEMPO_COLOURS


class TempoDay(Base):
    __tablename__ = "tempo_days"
    __table_args__ = (
        CheckConstraint(f"colour IN {TEMPO_COLOURS!r}", name="colour_known"),
        CheckConstraint(f"manual_colour IS NULL OR manual_colour IN {TEMPO_COLOURS!r}", name="manual_colour_known"),
        CheckConstraint(f"rte_colour IS NULL OR rte_colour IN {TEMPO_COLOURS!r}", name="rte_colour_known"),
        CheckConstraint("(manual_colour IS NULL) = (corrected_at IS NULL)", name="corrected_when_manual"),
    )

    day: Mapped[date] = mapped_column(primary_key=True)  # natural key: the calendar day
    colour: Mapped[str] = mapped_column(String(5))
    updated_at: Mapped[datetime]  # RTE's updated_date
    fetched_at: Mapped[datetime]
    rte_colour: Mapped[str | None] = mapped_column(String(5))  # NULL: RTE has not said (a correction came first)
    manual_colour: Mapped[str | None] = mapped_column(String(5))
    corrected_at: Mapped[datetime | None]
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def corrected(self) -> bool:
        return self.manual_colour is not None


def store_rte_colours(session: Session, rows: Iterable[dict]) -> int:
    """Upsert what RTE said (`day`, `colour`, `updated_at`, `fetched_at`); a manual correction keeps its colour."""
    rows = [{**row, "rte_colour": row["colour"]} for row in rows]
    if not rows:
        return 0
    stmt = insert(TempoDay).values(rows)
    table = TempoDay.__table__
    session.execute(stmt.on_conflict_do_update(index_elements=["day"], set_={
        # COALESCE, not a CASE on a flag: should a previous release's worker overwrite `colour` during a
        # deploy, the next pass puts the correction back.
        "colour": func.coalesce(table.c.manual_colour, stmt.excluded.colour),
        "rte_colour": stmt.excluded.colour,
        "updated_at": stmt.excluded.updated_at,
        "fetched_at": stmt.excluded.fetched_at,
    }))
    return len(rows)


def _locked(session: Session, day: date) -> TempoDay | None:
    return session.scalar(select(TempoDay).where(TempoDay.day == day).with_for_update()
                          .execution_options(populate_existing=True))


def _state(row: TempoDay | None) -> dict | None:
    return None if row is None else {"colour": row.colour, "rte_colour": row.rte_colour,
                                     "manual_colour": row.manual_colour}


def correct(session: Session, day: date, colour: str, *, actor_id: int | None, ip: str | None, now: datetime,
            reason: str = "") -> TempoDay:
    """Set `day`'s colour by hand (audited): it stays until removed, whatever RTE says."""
    if colour not in TEMPO_COLOURS:
        raise ValueError(f"unknown Tempo colour {colour!r}")
    row = _locked(session, day)
    before = _state(row)
    if row is None:
        row = TempoDay(day=day, colour=colour, updated_at=now, fetched_at=now)
        session.add(row)
    row.colour = row.manual_colour = colour
    row.corrected_at, row.corrected_by_id = now, actor_id
    session.flush()
    record(session, "admin.tempo.corrected", actor_id=actor_id, target=tempo_target(day), ip=ip,
           before=before, after=_state(row), **({"reason": reason} if reason else {}))
    return row


def remove_correction(session: Session, day: date, *, actor_id: int | None, ip: str | None) -> TempoDay | None:
    """Back to RTE's colour (audited); a day RTE never gave is removed. None when there was no correction."""
    row = _locked(session, day)
    if row is None or row.manual_colour is None:
        return None
    before = _state(row)
    if row.rte_colour is None:
        session.delete(row)
        after = None
    else:
        row.colour, row.manual_colour, row.corrected_at, row.corrected_by_id = row.rte_colour, None, None, None
        after = _state(row)
    session.flush()
    record(session, "admin.tempo.correction_removed", actor_id=actor_id, target=tempo_target(day), ip=ip,
           before=before, after=after)
    return row
