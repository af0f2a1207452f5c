"""RTE tasks: Tempo colours, EcoWatt signals, national consumption (public data → PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from models.calendar import PARIS, tempo_season_start
from models.ecowatt import EcoWattSignal
from models.keys import tempo_season_claim
from models.national_consumption import NationalConsumption
from models.tempo import TempoDay
from pipeline.celery_app import app
from pipeline.clients.base import Throttled, Unavailable
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
    """Fetch and store the Tempo colours of [start, end); Throttled/Unavailable propagate."""
    values = task.services.rte.tempo(start, end)
    fetched = datetime.now(UTC)
    rows = [{"day": v.day, "colour": v.colour, "updated_at": v.updated_at or fetched, "fetched_at": fetched}
            for v in values]
    with task.session() as session:
        return upsert(session, TempoDay, rows, ["day"])


@app.task(bind=True, base=ReleveTask, name="releve.rte.tempo_tomorrow")
def tempo_tomorrow(self: ReleveTask, now: str | None = None, attempt: int = 0) -> str:
    """From 10:30 Paris, fetch today and tomorrow until tomorrow's colour is known."""
    local = _now(now).astimezone(PARIS)
    today = local.date()
    with self.session() as session:
        known = session.scalar(select(TempoDay.colour).where(TempoDay.day == today + timedelta(days=1)))
    if known:
        return "known"
    if local.time() < TEMPO_PUBLISHED_AT:
        return "too-early"
    try:
        return f"stored {store_tempo(self, today, today + timedelta(days=2))}"
    except (Throttled, Unavailable) as exc:
        self.reschedule(exc, dict(now=now, attempt=attempt))


@app.task(bind=True, base=ReleveTask, name="releve.rte.tempo_season")
def tempo_season(self: ReleveTask, now: str | None = None, attempt: int = 0) -> int:
    """Daily consistency pass: the whole season so far (colours may be corrected)."""
    today = _now(now).astimezone(PARIS).date()
    if not self.request.retries and not once(self.settings, tempo_season_claim(today), 86400):
        return 0
    try:
        return store_tempo(self, tempo_season_start(today), today + timedelta(days=1))
    except (Throttled, Unavailable) as exc:
        self.reschedule(exc, dict(now=now, attempt=attempt))


@app.task(bind=True, base=ReleveTask, name="releve.rte.ecowatt")
def fetch_ecowatt(self: ReleveTask, attempt: int = 0) -> int:
    """Store EcoWatt for today and the next three days (at most once per 15 minutes, cluster-wide)."""
    if self.services.ecowatt_limiter.blocked_for() > 0:
        return 0  # the signal is already fresh: skipping is cheaper than waiting
    try:
        days = self.services.rte.ecowatt()
    except Throttled:
        return 0  # the next beat tick asks again
    except Unavailable as exc:
        self.reschedule(exc, dict(attempt=attempt))
    fetched = datetime.now(UTC)
    rows = [{"day": d.day, "dvalue": d.dvalue, "message": d.message, "hvalues": list(d.hvalues),
             "generated_at": d.generated_at or fetched, "fetched_at": fetched} for d in days]
    with self.session() as session:
        return upsert(session, EcoWattSignal, rows, ["day"])


@app.task(bind=True, base=ReleveTask, name="releve.rte.national_consumption")
def fetch_national_consumption(self: ReleveTask, attempt: int = 0) -> int:
    """Store the realised, intraday and D-1 national consumption."""
    try:
        values = self.services.rte.national_consumption()
    except (Throttled, Unavailable) as exc:
        self.reschedule(exc, dict(attempt=attempt))
    rows = {(v.series, v.start): {"series": v.series, "start_at": v.start, "end_at": v.end, "value_mw": v.value_mw,
                                  "updated_at": v.updated_at or datetime.now(UTC)} for v in values}
    with self.session() as session:
        total = 0
        batch = list(rows.values())
        for i in range(0, len(batch), 1000):  # bounded statements
            total += upsert(session, NationalConsumption, batch[i:i + 1000], ["series", "start_at"])
        return total


@app.task(bind=True, base=ReleveTask, name="releve.tokens.renew")
def renew_tokens(self: ReleveTask, attempt: int = 0) -> str:
    """Keep the application tokens valid (renewed before expiry, shared by every worker)."""
    try:
        self.services.enedis.tokens.get()
        self.services.rte.tokens.get()
    except (Throttled, Unavailable) as exc:
        self.reschedule(exc, dict(attempt=attempt))
    return "ok"
