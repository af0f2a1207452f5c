"""The simulator's task, run in-process against the test's PostgreSQL and Valkey, fetching from the sandbox
over HTTP: what is missing first (within the person's budget, progress recorded), then every offer at the
meter's power priced and ranked, the result sealed in the cache.

`apply()` runs a reschedule at once, so a task that waits for the budget runs its next round straight away:
there the budget is still spent, the round fetches nothing, and the task prices what it has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import redis
from sqlalchemy import select

from factories import made_up_pdl
from models.cache import EncryptedCache
from models.calendar import PARIS, last_published_day
from models.db import session_scope
from models.keys import SIMULATION, interactive_budget_key
from models.offpeak_history import record_offpeak
from models.usage_points import UsagePoint
from pipeline import tasks
from pipeline.costs import read_progress, simulation_of, year_back
from pipeline.ratelimit import INTERACTIVE_BUDGET


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}  # any made-up PDL is a consumer with a load curve


@pytest.fixture
def store(settings, valkey):
    client = redis.Redis.from_url(settings.valkey_url)
    yield EncryptedCache.from_settings(client, settings)
    client.close()


@pytest.fixture
def point(accounts, store, database_url, sandbox):
    """A committed consumption point (workers' sessions see it), its contract cached, its HC recorded."""
    (point,) = accounts.points([made_up_pdl("93")], kind="consumption")
    store.put(point.user_id, "contract", {"subscribed_power_kva": 6, "offpeak_hours": "HC (22H00-6H00)"},
              point=point.id)
    with session_scope(database_url) as session:
        record_offpeak(session, point.id, "HC (22H00-6H00)", date(2024, 1, 1))
    return point


LAST = last_published_day(datetime.now(UTC))
FIRST = year_back(LAST)


def curve_of(day: date) -> list[dict]:
    t = datetime.combine(day, time(0), PARIS).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), PARIS).astimezone(UTC)
    out = []
    while t < end:
        out.append({"start": t.astimezone(PARIS).isoformat(), "minutes": 30, "watts": 800, "wh": 400})
        t += timedelta(minutes=30)
    return out


def run(celery_app, point) -> dict:
    return celery_app.tasks[tasks.SIMULATE].apply(kwargs={"point_id": point.id, "last": LAST.isoformat()}).get()


def enedis_curve_calls(sandbox, since: float) -> list:
    return [c for c in sandbox.state.calls_since(since) if c.api == "enedis" and "consumption_load_curve" in c.path]


def test_missing_windows_are_fetched_first_then_every_offer_is_ranked(celery_app, point, store, sandbox, valkey):
    # The year is cached but its last ten days: two windows (7 days, then 3).
    cached = {d: curve_of(d) for d in (FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1))
              if d <= LAST - timedelta(days=10)}
    store.put_days(point.user_id, point.id, "load_curve", cached)
    store.put(point.user_id, "contract", {"subscribed_power_kva": 9, "offpeak_hours": "HC (22H00-6H00)"},
              point=point.id)  # 9 kVA: EJP has prices there
    t0 = __import__("time").time()
    outcome = run(celery_app, point)
    assert outcome["status"] == "ok" and outcome["left"] == 0
    assert len(enedis_curve_calls(sandbox, t0)) == 2
    assert int(valkey.get(interactive_budget_key(point.user_id))) == 2  # from the person's budget
    progress = read_progress(store, point.user_id, point.id)
    assert (progress["state"], progress["done"], progress["total"], progress["stale"]) == ("done", 2, 2, False)
    # The fetched days are in the cache now, and the result too, sealed.
    read = store.read_range(point.user_id, point.id, "load_curve", LAST - timedelta(days=9), LAST + timedelta(days=1))
    assert not [d for d in read.missing if d not in read.partial]
    result = store.get(point.user_id, SIMULATION, point=point.id)
    assert result["first"] == FIRST.isoformat() and result["last"] == LAST.isoformat() and result["kva"] == 9
    assert result["unfetched_windows"] == 0 and result["fetch_stopped"] is None
    raw = valkey.get(f"releve:c:{point.user_id}:p{point.id}:simulation")
    assert raw is not None and b"comparison" not in raw
    comparison = simulation_of(result)
    names = [cost.offer.name for cost, _ in comparison.ranked]
    assert {"Tarif Bleu – Base", "Tarif Bleu – Heures Creuses"} <= set(names)
    # Every offer of the catalogue at 9 kVA is there: ranked, set apart (no Tempo colour, no Sobriété day is
    # stored in this test), or not computable; but EJP, closed to new customers (and not the household's).
    assert result["closed"] == ["Tarif Bleu – EJP"]
    listed = set(names) | {a["name"] for a in result["set_aside"]} | {n.offer.name for n in comparison.not_computable}
    assert {"Tarif Bleu – Tempo", "Zen Flex", "Zen Week-End", "Zen Week-End Heures Creuses"} <= listed
    assert {a["name"] for a in result["set_aside"]} >= {"Tarif Bleu – Tempo", "Zen Flex"}
    # Ranked over the days every ranked offer prices, cheapest first.
    totals = [summary.total_eur for _, summary in comparison.ranked]
    assert totals == sorted(totals) and len(comparison.days) > 0
    assert result["current"] == {"key": result["current"]["key"], "confirmed": False}  # the contract's HC offer


def test_the_budget_caps_the_fetches_and_what_is_left_is_said(celery_app, point, store, sandbox, valkey):
    t0 = __import__("time").time()
    outcome = run(celery_app, point)  # nothing cached: about 53 windows of 7 days for the year
    calls = enedis_curve_calls(sandbox, t0)
    assert len(calls) == INTERACTIVE_BUDGET
    assert outcome["status"] == "ok" and outcome["left"] > 0
    result = store.get(point.user_id, SIMULATION, point=point.id)
    assert result["fetch_stopped"] == "budget" and result["unfetched_windows"] == outcome["left"]
    assert result["missing_half_hours"] > 0
    progress = read_progress(store, point.user_id, point.id)
    assert progress["state"] == "done" and progress["done"] == INTERACTIVE_BUDGET
    assert progress["total"] == INTERACTIVE_BUDGET + outcome["left"]


def test_enedis_failing_once_is_waited_out(celery_app, point, store, sandbox):
    cached = {d: curve_of(d) for d in (FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1))
              if d <= LAST - timedelta(days=5)}
    store.put_days(point.user_id, point.id, "load_curve", cached)
    fault = sandbox.state.add_fault("503", api="enedis", calls=1, path="/metering_data_clc")
    outcome = run(celery_app, point)
    assert fault.calls == 0 and outcome["status"] == "ok" and outcome["left"] == 0
    assert read_progress(store, point.user_id, point.id)["state"] == "done"


def test_consent_withdrawn_on_the_way_stops_the_fetches_and_prices_what_is_there(celery_app, point, store, sandbox,
                                                                                 database_url):
    cached = {d: curve_of(d) for d in (FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1))
              if d <= LAST - timedelta(days=20)}
    store.put_days(point.user_id, point.id, "load_curve", cached)
    sandbox.state.add_fault("revoke", api="enedis", prm=point.pdl)
    outcome = run(celery_app, point)
    assert outcome["status"] == "ok" and outcome["left"] > 0
    result = store.get(point.user_id, SIMULATION, point=point.id)
    assert result["fetch_stopped"] == "consent" and simulation_of(result).ranked
    with session_scope(database_url) as session:
        assert session.scalar(select(UsagePoint.status).where(UsagePoint.id == point.id)) == "consent_needed"


def test_without_a_subscribed_power_it_fails_in_french(celery_app, accounts, store, sandbox):
    (point,) = accounts.points([made_up_pdl("93")], kind="consumption")
    assert run(celery_app, point) == {"status": "no-power"}
    progress = read_progress(store, point.user_id, point.id)
    assert progress["state"] == "failed" and "puissance souscrite" in progress["message"]
    assert store.get(point.user_id, SIMULATION, point=point.id) is None


def test_a_point_gone_meanwhile_is_skipped(celery_app, sandbox):
    result = celery_app.tasks[tasks.SIMULATE].apply(kwargs={"point_id": 2_000_000_000, "last": LAST.isoformat()})
    assert result.get() == {"status": "skipped"}


def test_the_task_goes_to_the_interactive_queue(celery_app):
    from pipeline.queues import route

    assert route(tasks.SIMULATE, (), {"point_id": 1, "last": "2026-01-01"}, {}) == {"queue": "interactive"}
