"""The day calendars offers are priced by: Tempo colours, EJP days, EDF "Sobriété" days, public holidays.

- Tempo colours come from RTE (`tempo_days`, filled by the pipeline, past seasons included).
- EJP and Sobriété days have no public API: a data file in the project
  (`models/data/calendars/*.json`) and `releve calendar set|unset|known` store them here. A
  listed day is a special day; a day that is not listed is an ordinary one only inside the period
  declared complete (`calendar_coverage`), and unknown outside it. EJP days fall between
  1 November and 31 March only (arrêté du 30 octobre 2014, art. 3, per
  ../shared/docs/tariffs-and-admin.md §2.6): any other day is known not to be one.
- Public holidays (metropolitan France) come from the `holidays` package, for any year.

`day_calendar(session, start, end)` answers all of them per day, unknown days marked unknown
(None), never guessed; `engine_calendars(session, start, end)` gives the same to the cost engine.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import holidays
from sqlalchemy import CheckConstraint, Date, String, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import record
from models.base import Base
from models.calendar import tempo_season_start
from models.costs.inputs import Calendars, MarkedDays, french_public_holidays
from models.tempo import TempoDay

SPECIAL_KINDS = ("ejp", "sobriete")
KIND_LABELS = {"ejp": "EJP", "sobriete": "Sobriété"}
EJP_MONTHS = (11, 12, 1, 2, 3)
# Days per season the offers allow: EJP 22 (arrêté du 30 octobre 2014, art. 3); Zen Flex "up to 20"
# Sobriété days (JC144/EDF_Simulateur_Prix and GaboFlo/Comparateur…, tariffs-and-admin.md §2.5).
SEASON_QUOTAS = {"ejp": 22, "sobriete": 20}
MAX_RANGE_DAYS = 3 * 366 + 31  # one call of `day_calendar` covers at most about three years


class SpecialDay(Base):
    """An EJP or Sobriété day (the whole calendar day as announced; offers apply their own hours)."""

    __tablename__ = "special_days"
    __table_args__ = (
        CheckConstraint("kind IN ('ejp', 'sobriete')", name="kind_known"),
        CheckConstraint("kind <> 'ejp' OR extract(month FROM day) IN (11, 12, 1, 2, 3)", name="ejp_in_winter"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CalendarCoverage(Base):
    """The days over which a kind's list is complete: an unlisted day there is an ordinary day."""

    __tablename__ = "calendar_coverage"
    __table_args__ = (
        CheckConstraint("kind IN ('ejp', 'sobriete')", name="kind_known"),
        CheckConstraint("known_through >= known_from", name="range_order"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    known_from: Mapped[date] = mapped_column(Date)
    known_through: Mapped[date] = mapped_column(Date)  # inclusive
    source: Mapped[str] = mapped_column(String(300), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class CalendarError(ValueError):
    """A day or range the calendars refuse (with a message for the person who typed it)."""


# -- public holidays ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _holidays_of(year: int) -> dict[date, str]:
    return dict(holidays.France(years=year, language="fr").items())


def public_holiday(day: date) -> str | None:
    """The name of the French public holiday on `day` (metropolitan France), or None."""
    return _holidays_of(day.year).get(day)


# -- the one function ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayInfo:
    """What the calendars say of one Paris calendar day. None means unknown.

    `tempo` is RTE's colour of the Tempo day that starts at 06:00 that date (BLUE, WHITE, RED).
    `ejp` / `sobriete`: whether it is an EJP / Sobriété day. `holiday`: the public holiday's name.
    """

    day: date
    tempo: str | None
    ejp: bool | None
    sobriete: bool | None
    holiday: str | None

    @property
    def is_holiday(self) -> bool:
        return self.holiday is not None

    @property
    def is_weekend(self) -> bool:
        return self.day.weekday() >= 5

    @property
    def unknown(self) -> tuple[str, ...]:
        """The calendars that do not know this day."""
        return tuple(name for name in ("tempo", "ejp", "sobriete") if getattr(self, name) is None)


def day_calendar(session: Session, start: date, end: date) -> dict[date, DayInfo]:
    """Every day of `[start, end)`: Tempo colour, EJP flag, Sobriété flag, public holiday; unknown is None.

    Three queries whatever the length (at most about three years per call).
    """
    if end <= start:
        return {}
    if (end - start).days > MAX_RANGE_DAYS:
        raise CalendarError(f"at most {MAX_RANGE_DAYS} days per call")
    colours = dict(session.execute(select(TempoDay.day, TempoDay.colour)
                                   .where(TempoDay.day >= start, TempoDay.day < end)).all())
    special = {(kind, day) for kind, day in session.execute(
        select(SpecialDay.kind, SpecialDay.day).where(SpecialDay.day >= start, SpecialDay.day < end)).all()}
    coverage = {c.kind: (c.known_from, c.known_through) for c in session.scalars(select(CalendarCoverage))}

    def flag(kind: str, day: date) -> bool | None:
        if (kind, day) in special:
            return True
        if kind == "ejp" and day.month not in EJP_MONTHS:
            return False
        known = coverage.get(kind)
        return False if known and known[0] <= day <= known[1] else None

    out = {}
    day = start
    while day < end:
        out[day] = DayInfo(day, colours.get(day), flag("ejp", day), flag("sobriete", day), public_holiday(day))
        day += timedelta(days=1)
    return out


# -- setting days (the CLI, the data files, later the admin page) -----------------------------------


def _check_kind(kind: str) -> None:
    if kind not in SPECIAL_KINDS:
        raise CalendarError(f"unknown calendar {kind!r}: one of {', '.join(SPECIAL_KINDS)}")


def _check_day(kind: str, day: date) -> None:
    if kind == "ejp" and day.month not in EJP_MONTHS:
        raise CalendarError(f"{day}: EJP days fall between 1 November and 31 March")


def season_count(session: Session, kind: str, day: date) -> int:
    """Days of `kind` set in the season (1 September – 31 August) holding `day`."""
    first = tempo_season_start(day)
    return session.scalar(select(func.count()).select_from(SpecialDay).where(
        SpecialDay.kind == kind, SpecialDay.day >= first, SpecialDay.day < date(first.year + 1, 9, 1)))


def set_days(session: Session, kind: str, days: list[date], source: str = "") -> list[date]:
    """Mark `days` as `kind` days; returns those that were not already. Raises CalendarError on a bad day."""
    _check_kind(kind)
    for day in days:
        _check_day(kind, day)
    if not days:
        return []
    rows = [{"kind": kind, "day": day, "source": source[:300]} for day in sorted(set(days))]
    added = session.scalars(insert(SpecialDay).values(rows).on_conflict_do_nothing()
                            .returning(SpecialDay.day)).all()
    return sorted(added)


def unset_days(session: Session, kind: str, days: list[date]) -> list[date]:
    """Remove `days` from the `kind` days; returns those that were there."""
    _check_kind(kind)
    if not days:
        return []
    removed = session.scalars(delete(SpecialDay).where(SpecialDay.kind == kind, SpecialDay.day.in_(set(days)))
                              .returning(SpecialDay.day)).all()
    return sorted(removed)


def over_quota(session: Session, kind: str, days: list[date]) -> dict[date, int]:
    """Seasons (named by their 1 September) of `days` that now hold more `kind` days than the offer allows."""
    seasons = {tempo_season_start(d) for d in days}
    counts = {s: season_count(session, kind, s) for s in seasons}
    return {s: n for s, n in sorted(counts.items()) if n > SEASON_QUOTAS[kind]}


def set_coverage(session: Session, kind: str, known_from: date, known_through: date, source: str = "",
                 *, widen_only: bool = False) -> CalendarCoverage:
    """Declare `kind`'s list complete over `[known_from, known_through]` (inclusive).

    With `widen_only` (data files loaded at every upgrade), an existing coverage is only ever
    extended by an overlapping or adjacent range, never shrunk: what an administrator declared stays.
    """
    _check_kind(kind)
    if known_through < known_from:
        raise CalendarError("the first day is after the last")
    row = session.get(CalendarCoverage, kind)
    if row is None:
        row = CalendarCoverage(kind=kind, known_from=known_from, known_through=known_through, source=source[:300])
        session.add(row)
        return row
    if widen_only:
        touches = known_from <= row.known_through + timedelta(days=1) and row.known_from <= known_through + timedelta(days=1)
        if touches:
            row.known_from, row.known_through = min(row.known_from, known_from), max(row.known_through, known_through)
        return row
    row.known_from, row.known_through, row.source = known_from, known_through, source[:300]
    return row


def coverage(session: Session) -> dict[str, tuple[date, date]]:
    return {c.kind: (c.known_from, c.known_through) for c in session.scalars(select(CalendarCoverage))}


def special_days(session: Session, kind: str, start: date | None = None, end: date | None = None) -> list[date]:
    _check_kind(kind)
    query = select(SpecialDay.day).where(SpecialDay.kind == kind)
    if start is not None:
        query = query.where(SpecialDay.day >= start)
    if end is not None:
        query = query.where(SpecialDay.day < end)
    return list(session.scalars(query.order_by(SpecialDay.day)))


# -- the admin page: the same functions, each change audited ------------------------------------------


def calendar_target(kind: str, day: date | None = None) -> str:
    return f"calendar:{kind}" + (f":{day.isoformat()}" if day else "")


def mark_day(session: Session, kind: str, day: date, source: str, *, actor_id: int | None, ip: str | None) -> bool:
    """Mark one day (audited); False when it already was. CalendarError on a day the calendar refuses."""
    added = set_days(session, kind, [day], source)
    if added:
        record(session, "admin.calendar.day_marked", actor_id=actor_id, target=calendar_target(kind, day), ip=ip,
               before={"marked": False}, after={"marked": True, "source": source[:300]})
    return bool(added)


def unmark_day(session: Session, kind: str, day: date, *, actor_id: int | None, ip: str | None) -> bool:
    """Remove one day (audited); False when it was not marked."""
    removed = unset_days(session, kind, [day])
    if removed:
        record(session, "admin.calendar.day_unmarked", actor_id=actor_id, target=calendar_target(kind, day), ip=ip,
               before={"marked": True}, after={"marked": False})
    return bool(removed)


def declare_coverage(session: Session, kind: str, known_from: date, known_through: date, source: str, *,
                     actor_id: int | None, ip: str | None) -> CalendarCoverage:
    """Declare the span over which `kind`'s list is complete (audited), replacing the previous span."""
    before = coverage(session).get(kind)
    row = set_coverage(session, kind, known_from, known_through, source)
    session.flush()
    record(session, "admin.calendar.coverage_set", actor_id=actor_id, target=calendar_target(kind), ip=ip,
           before=None if before is None else {"from": before[0].isoformat(), "through": before[1].isoformat()},
           after={"from": known_from.isoformat(), "through": known_through.isoformat(), "source": source[:300]})
    return row


# -- the data files -------------------------------------------------------------------------------


@dataclass
class CalendarLoadReport:
    added: dict[str, list[date]]
    coverage: dict[str, tuple[date, date] | None]


def data_dir() -> Path:
    return Path(str(files("models") / "data" / "calendars"))


def load_calendar_files(session: Session, directory: Path | None = None) -> CalendarLoadReport:
    """Load `models/data/calendars/<kind>.json` (idempotent: adds missing days, widens coverage, removes nothing).

    A file: {"kind": "ejp", "source": "...", "known": [{"from": "YYYY-MM-DD", "through": "YYYY-MM-DD",
    "source": "..."}], "days": [{"day": "YYYY-MM-DD", "source": "..."}]}.
    """
    directory = directory or data_dir()
    report = CalendarLoadReport({}, {})
    for path in sorted(directory.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        kind = body["kind"]
        _check_kind(kind)
        added = []
        for item in body.get("days") or []:
            added += set_days(session, kind, [date.fromisoformat(item["day"])], item.get("source") or body.get("source", ""))
        for known in body.get("known") or []:
            set_coverage(session, kind, date.fromisoformat(known["from"]), date.fromisoformat(known["through"]),
                         known.get("source") or body.get("source", ""), widen_only=True)
        session.flush()
        report.added[kind] = sorted(added)
        report.coverage[kind] = coverage(session).get(kind)
    return report


def engine_calendars(session: Session, start: date, end: date) -> Calendars:
    """The calendars of `[start, end)` as the cost engine takes them (`models.costs.inputs.Calendars`):
    Tempo colours stored, EJP and Sobriété days with the span declared complete (a listed day outside
    it is known as well), public holidays of the years touched. Anything else stays unknown."""
    if end <= start:
        raise CalendarError("the range is empty")
    if (end - start).days > MAX_RANGE_DAYS:
        raise CalendarError(f"at most {MAX_RANGE_DAYS} days per call")
    tempo = dict(session.execute(select(TempoDay.day, TempoDay.colour)
                                 .where(TempoDay.day >= start, TempoDay.day < end)).all())
    spans = coverage(session)

    def marked(kind: str) -> MarkedDays:
        days = special_days(session, kind, start, end)
        known = [spans[kind]] if kind in spans else []
        return MarkedDays(frozenset(days), tuple(known) + tuple((d, d) for d in days))

    return Calendars(tempo=tempo, ejp=marked("ejp"), sobriete=marked("sobriete"),
                     holidays=french_public_holidays(start.year, (end - timedelta(days=1)).year))
