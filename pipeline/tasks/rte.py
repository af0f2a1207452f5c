"""RTE tasks: Tempo colours, EcoWatt signals, national consumption (public data → PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from celery import shared_task
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.calendar import PARIS, tempo_season_start
from models.ecowatt import EcoWattSignal
from models.keys import tempo_history_claim, tempo_season_claim
from models.national_consumption import NationalConsumption
from models.offers import earliest_price_day
from models.tempo import TempoDay
from pipeline import tasks
from pipeline.clients.base import Throttled
from pipeline.tasks.base import ReleveTask, once

log = logging.getLogger(__name__)
TEMPO_PUBLISHED_AT = time(10, 30)


def upsert(session, model, rows: list[dict], keys: list[str]) -> int:
    """INSERT … ON CONFLICT (natural key) DO UPDATE: idempotent writes of public data."""
    if not rows:
        return 0
    stmt = insert(model).values(rows)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates))
    return len(rows)


def _now(now: str | None) -> datetime:
    return datetime.fromisoformat(now) if now else datetime.now(UTC)


def store_tempo(task: ReleveTask, start: date, end: date) -> int:
    """Fetch and store the Tempo colours of [start, end) (Throttled/Unavailable: the retry policy)."""
    values = task.services.rte.tempo(start, end)
    fetched = datetime.now(UTC)
    rows = [{"day": v.day, "colour": v.colour, "updated_at": v.updated_at or fetched, "fetched_at": fetched}
            for v in values]
    with task.session() as session:
        return upsert(session, TempoDay, rows, ["day"])


@shared_task(bind=True, base=ReleveTask, name=tasks.TEMPO_TOMORROW)
def tempo_tomorrow(self: ReleveTask, now: str | None = None) -> str:
    """From 10:30 Paris, fetch today and tomorrow until tomorrow's colour is known."""
    local = _now(now).astimezone(PARIS)
    today = local.date()
    with self.session() as session:
        known = session.scalar(select(TempoDay.colour).where(TempoDay.day == today + timedelta(days=1)))
    if known:
        return "known"
    if local.time() < TEMPO_PUBLISHED_AT:
        return "too-early"
    return f"stored {store_tempo(self, today, today + timedelta(days=2))}"


@shared_task(bind=True, base=ReleveTask, name=tasks.TEMPO_SEASON)
def tempo_season(self: ReleveTask, now: str | None = None) -> int:
    """Daily consistency pass: the whole season so far (colours may be corrected)."""
    today = _now(now).astimezone(PARIS).date()
    if not self.rescheduled and not once(self.settings, tempo_season_claim(today), 86400):
        return 0
    return store_tempo(self, tempo_season_start(today), today + timedelta(days=1))


# Costs reach back as far as Enedis keeps daily energy (36 months): no Tempo season older than that is asked.
HISTORY_YEARS = 3


def past_tempo_seasons(session: Session, today: date) -> list[tuple[date, date]]:
    """Past Tempo seasons `[1 September, next 1 September)` the costs need and the database lacks days of.

    The oldest is the season of the first day a Tempo price applies (`offer_prices`, household
    offers included), but never more than HISTORY_YEARS back; the current season is `tempo_season`'s.
    """
    earliest = earliest_price_day(session, "tempo")
    if earliest is None:
        return []
    oldest = max(earliest, date(today.year - HISTORY_YEARS, today.month, 1))
    season, current, wanted = tempo_season_start(oldest), tempo_season_start(today), []
    while season < current:
        end = date(season.year + 1, 9, 1)
        stored = session.scalar(select(func.count()).select_from(TempoDay)
                                .where(TempoDay.day >= season, TempoDay.day < end))
        if stored < (end - season).days:
            wanted.append((season, end))
        season = end
    return wanted


@shared_task(bind=True, base=ReleveTask, name=tasks.TEMPO_HISTORY)
def tempo_history(self: ReleveTask, now: str | None = None) -> int:
    """Daily: the colours of past seasons the costs need, one call per season still incomplete."""
    today = _now(now).astimezone(PARIS).date()
    if not self.rescheduled and not once(self.settings, tempo_history_claim(today), 86400):
        return 0
    with self.session() as session:
        seasons = past_tempo_seasons(session, today)
    stored = 0
    for first, end in seasons:  # no transaction is open while RTE answers
        stored += store_tempo(self, first, end)
    if seasons:
        log.info("tempo history: %d season(s) asked, %d day(s) stored", len(seasons), stored)
    return stored


@shared_task(bind=True, base=ReleveTask, name=tasks.ECOWATT)
def fetch_ecowatt(self: ReleveTask) -> int:
    """Store EcoWatt for today and the next three days (at most once per 15 minutes, cluster-wide)."""
    if self.services.ecowatt_limiter.blocked_for() > 0:
        return 0  # the signal is already fresh: skipping is cheaper than waiting
    try:
        days = self.services.rte.ecowatt()
    except Throttled:
        return 0  # the next beat tick asks again (Unavailable: the retry policy reschedules)
    fetched = datetime.now(UTC)
    rows = [{"day": d.day, "dvalue": d.dvalue, "message": d.message, "hvalues": list(d.hvalues),
             "generated_at": d.generated_at or fetched, "fetched_at": fetched} for d in days]
    with self.session() as session:
        return upsert(session, EcoWattSignal, rows, ["day"])


@shared_task(bind=True, base=ReleveTask, name=tasks.NATIONAL_CONSUMPTION)
def fetch_national_consumption(self: ReleveTask) -> int:
    """Store the realised, intraday and D-1 national consumption."""
    values = self.services.rte.national_consumption()
    rows = {(v.series, v.start): {"series": v.series, "start_at": v.start, "end_at": v.end, "value_mw": v.value_mw,
                                  "updated_at": v.updated_at or datetime.now(UTC)} for v in values}
    with self.session() as session:
        total = 0
        batch = list(rows.values())
        for i in range(0, len(batch), 1000):  # bounded statements
            total += upsert(session, NationalConsumption, batch[i:i + 1000], ["series", "start_at"])
        return total


@shared_task(bind=True, base=ReleveTask, name=tasks.RENEW_TOKENS)
def renew_tokens(self: ReleveTask) -> str:
    """Keep the application tokens valid (renewed before expiry, shared by every worker)."""
    self.services.enedis.tokens.get()
    self.services.rte.tokens.get()
    return "ok"
