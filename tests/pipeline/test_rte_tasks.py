"""RTE tasks run in-process (their functions, no worker) against the sandbox over HTTP and real PostgreSQL."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from tests_helpers import empty_public_tables
from models.db import session_scope
from models.ecowatt import EcoWattSignal
from models.national_consumption import NationalConsumption
from models.tempo import TempoDay
from pipeline import tasks
from sandbox import rte_data

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def rte(sandbox, celery_app, valkey, database_url):
    empty_public_tables(database_url)
    sandbox.task = celery_app.tasks.__getitem__  # the task of that name, bound to the test's settings
    yield sandbox
    empty_public_tables(database_url)  # the tasks commit: public tables are emptied after


def count(database_url, model) -> int:
    with session_scope(database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_tempo_season_stores_the_sandbox_colours_idempotently(rte, database_url, valkey):
    tempo_season = rte.task(tasks.TEMPO_SEASON)
    stored = tempo_season.apply().get()
    assert stored > 60 and count(database_url, TempoDay) == stored
    with session_scope(database_url) as session:
        rows = {d.day: d.colour for d in session.scalars(select(TempoDay))}
    for day, colour in rows.items():
        assert colour == rte_data.tempo_colour(day)
    assert tempo_season.apply().get() == 0  # once per day: the second beat tick does nothing
    valkey.delete(*valkey.keys("releve:once:tempo_season:*"))
    assert tempo_season.apply().get() == stored and count(database_url, TempoDay) == stored  # upsert


def test_tempo_tomorrow_waits_for_half_past_ten(rte, database_url):
    tempo_tomorrow = rte.task(tasks.TEMPO_TOMORROW)
    today = datetime.now(PARIS).date()
    early = datetime.combine(today, datetime.min.time(), PARIS).replace(hour=10, minute=29)
    assert tempo_tomorrow.apply(kwargs={"now": early.isoformat()}).get() == "too-early"
    later = early.replace(minute=31)
    rte.state.set_clock(later, frozen=True)
    assert tempo_tomorrow.apply(kwargs={"now": later.isoformat()}).get() == "stored 2"
    with session_scope(database_url) as session:
        tomorrow = session.get(TempoDay, today + timedelta(days=1))
        assert tomorrow.colour == rte_data.tempo_colour(today + timedelta(days=1))
    assert tempo_tomorrow.apply(kwargs={"now": later.isoformat()}).get() == "known"


def test_ecowatt_is_asked_at_most_once_per_quarter_hour(rte, database_url):
    fetch_ecowatt = rte.task(tasks.ECOWATT)
    assert fetch_ecowatt.apply().get() == 4
    assert fetch_ecowatt.apply().get() == 0  # the cluster-wide limiter says it is fresh: no call at all
    calls = [c for c in rte.state.calls_since(0) if "ecowatt" in c.path]
    assert len(calls) == 1 and calls[0].status == 200
    with session_scope(database_url) as session:
        for signal in session.scalars(select(EcoWattSignal)):
            assert len(signal.hvalues) == 24 and signal.dvalue == max(max(signal.hvalues), 1)


def test_national_consumption_upserts_on_series_and_start(rte, database_url):
    fetch_national_consumption = rte.task(tasks.NATIONAL_CONSUMPTION)
    stored = fetch_national_consumption.apply().get()
    assert stored > 0 and count(database_url, NationalConsumption) == stored
    assert fetch_national_consumption.apply().get() == stored
    assert count(database_url, NationalConsumption) == stored
    with session_scope(database_url) as session:
        values = list(session.scalars(select(NationalConsumption.value_mw)))
    assert 20_000 < min(values) and max(values) < 100_000


def test_tempo_history_fetches_past_seasons_back_to_the_first_tempo_price(rte, database_url, valkey):
    """Tempo prices start on 2025-02-01 (the seeded catalogue): the seasons from 1 September 2024 and
    1 September 2025 are asked of the sandbox over HTTP, one call each, and only while incomplete."""
    tempo_history = rte.task(tasks.TEMPO_HISTORY)
    now = "2026-11-26T05:00:00+01:00"

    def tempo_calls():
        return [c for c in rte.state.calls_since(0) if "tempo_like_calendars" in c.path and c.status == 200]

    assert tempo_history.apply(kwargs={"now": now}).get() == 365 + 365
    with session_scope(database_url) as session:
        rows = {d.day: d.colour for d in session.scalars(select(TempoDay))}
    assert min(rows) == date(2024, 9, 1) and max(rows) == date(2026, 8, 31) and len(rows) == 730
    assert all(colour == rte_data.tempo_colour(day) for day, colour in rows.items())
    assert len(tempo_calls()) == 2
    assert tempo_history.apply(kwargs={"now": now}).get() == 0  # once per day
    valkey.delete(*valkey.keys("releve:once:tempo_history:*"))
    assert tempo_history.apply(kwargs={"now": now}).get() == 0 and len(tempo_calls()) == 2  # complete: not asked

    with session_scope(database_url) as session:  # a season with a hole is asked again, whole
        session.execute(delete(TempoDay).where(TempoDay.day == date(2025, 1, 15)))
    valkey.delete(*valkey.keys("releve:once:tempo_history:*"))
    assert tempo_history.apply(kwargs={"now": now}).get() == 365 and len(tempo_calls()) == 3
    assert count(database_url, TempoDay) == 730
