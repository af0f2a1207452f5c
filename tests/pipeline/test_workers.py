"""Real workers against the sandbox over HTTP, real Valkey and real PostgreSQL.

Two `releve worker` processes (two pool processes each) fetch into the encrypted cache
while the sandbox logs every call it receives. The assertions read that log and the
cache; the truth the cache is compared with is the sandbox's own generator.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from models.cache import EncryptedCache
from models.db import session_scope
from models.settings import Settings
from models.usage_points import UsagePoint
from sandbox import enedis_data
from tests_helpers import empty_public_tables
from pipeline import tasks
from pipeline.celery_app import create_celery, enqueue as send
from factories import made_up_pdl
from tests_helpers import Processes, children_of, upstream_env

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
RATE = 5


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}  # made-up PRMs, no consent page


@pytest.fixture(scope="module")
def upstream(sandbox_server):
    """The module's sandbox, its state kept across tests: the workers' start-up calls are in its log."""
    return sandbox_server


@pytest.fixture(scope="module")
def cluster(env_for, valkey_databases, database_url, upstream):
    """Two workers (own Valkey database, so other tests' flushes never touch their broker)."""
    url = valkey_databases.lease()
    env = env_for(VALKEY_URL=url, CELERY_BROKER_URL=url, ENEDIS_RATE_PER_SECOND=str(RATE), **upstream_env(upstream.url))
    settings = Settings.from_env(env)
    celery = create_celery(settings)
    processes = Processes()
    workers = [processes.start(["worker", "--concurrency", "2", "--hostname", f"w{i}@%h"], env) for i in (1, 2)]
    deadline = time.monotonic() + 60
    while len(celery.control.ping(timeout=0.5)) < 2:
        assert all(w.poll() is None for w in workers), workers[0].log.read_text()
        assert time.monotonic() < deadline, "workers did not start"
    try:
        yield Cluster(settings, celery, workers, EncryptedCache.from_settings(redis.Redis.from_url(url), settings))
    finally:
        processes.stop_all()
        celery.close()
        empty_public_tables(database_url)
        valkey_databases.release(url)


class Cluster:
    def __init__(self, settings: Settings, celery, workers, cache: EncryptedCache):
        self.settings, self.celery, self.workers, self.cache = settings, celery, workers, cache

    def enqueue(self, point: UsagePoint, series: str, start: date, end: date) -> None:
        send(self.celery, tasks.FETCH_WINDOW, dict(point_id=point.id, series=series, start=start.isoformat(),
                                                   end=end.isoformat()))


def made_up_pdls(n: int) -> list[str]:
    return [made_up_pdl() for _ in range(n)]


def wait_for_days(cluster: Cluster, wanted: list[tuple[UsagePoint, str, date, date]], wait_until, timeout=120):
    def done():
        for point, series, start, end in wanted:
            if cluster.cache.read_range(point.user_id, point.id, series, start, end).missing:
                return False
        return True

    wait_until(done, timeout=timeout, interval=0.5)


def enedis_calls(upstream, since: float):
    return [c for c in upstream.state.calls_since(since) if c.api == "enedis"]


def paris_today() -> date:
    return datetime.now(PARIS).date()


def test_two_workers_share_the_quota_without_loss_or_duplicates(cluster, upstream, accounts, wait_until):
    """What the limiter promises: grants stay under the quota on Valkey's clock, but a call can reach upstream
    later than it was granted (a busy machine), so a rare 429 is possible; each one is waited out (Enedis
    announces nextAccessTime), every window completes once, none is fetched twice."""
    points = accounts.points(made_up_pdls(10))
    since = time.time()
    first = paris_today() - timedelta(days=60)
    wanted = []
    for point in points:
        for i in range(6):  # one call per window: 60 calls for four pool processes
            day = first + timedelta(days=i)
            cluster.enqueue(point, "daily_consumption", day, day + timedelta(days=1))
            wanted.append((point, "daily_consumption", day, day + timedelta(days=1)))
    wait_for_days(cluster, wanted, wait_until)
    calls = [c for c in enedis_calls(upstream, since) if c.path.startswith("/metering")]
    served = [(c.path, c.query) for c in calls if c.status == 200]
    assert len(served) == len(set(served)) == 60  # every window once, none twice
    assert len([c for c in calls if c.status == 429]) <= 1 + len(calls) // 20  # rare
    for point, series, start, _ in wanted:
        cached = cluster.cache.read_range(point.user_id, point.id, series, start, start + timedelta(days=1))
        assert cached.days[start]["value"] == enedis_data.daily_energy(point.pdl, start, "consumption")


@pytest.mark.parametrize("kind, announced", [("429", 3.0), ("429-next-access", 2.0)])
def test_an_announced_429_pauses_every_worker(kind, announced, cluster, upstream, accounts, wait_until):
    points = accounts.points(made_up_pdls(4))
    since = time.time()
    first = paris_today() - timedelta(days=90)
    upstream.state.add_fault(kind, api="enedis", calls=1, retry_after=3, path="/metering")
    wanted = []
    for point in points:
        for i in range(4):
            day = first + timedelta(days=i)
            cluster.enqueue(point, "daily_consumption", day, day + timedelta(days=1))
            wanted.append((point, "daily_consumption", day, day + timedelta(days=1)))
    wait_for_days(cluster, wanted, wait_until)
    calls = enedis_calls(upstream, since)
    throttled = [c for c in calls if c.fault]
    assert len(throttled) == 1 and throttled[0].status == 429
    # When the pause ends every pool process resumes at once, so on a busy machine a quota 429 or two may
    # follow (arrival jitter, see the quota test, which measures how rare they are over more calls); each is
    # waited out like this one, and nothing is lost or fetched twice:
    served = [(c.path, c.query) for c in calls if c.status == 200]
    assert len(served) == len(set(served)) == len(wanted)
    pause_start = throttled[0].t + throttled[0].duration
    # Calls already past the limiter may still land just after the 429; none starts inside the pause.
    during = [c for c in calls if pause_start + 0.3 < c.t < pause_start + announced - 0.1]
    assert during == []
    for point, series, start, _ in wanted:
        cached = cluster.cache.read_range(point.user_id, point.id, series, start, start + timedelta(days=1))
        assert cached.days[start]["value"] == enedis_data.daily_energy(point.pdl, start, "consumption")


def test_a_storm_without_announced_wait_completes_without_loss_or_duplicates(cluster, upstream, accounts,
                                                                            wait_until):
    points = accounts.points(made_up_pdls(3))
    since = time.time()
    start = paris_today() - timedelta(days=30)
    upstream.state.add_fault("429-bare", api="enedis", seconds=4)
    wanted = []
    for point in points:
        for offset in (0, 7):
            cluster.enqueue(point, "load_curve", start + timedelta(days=offset), start + timedelta(days=offset + 7))
        wanted.append((point, "load_curve", start, start + timedelta(days=14)))
    wait_for_days(cluster, wanted, wait_until, timeout=180)
    assert any(c.status == 429 for c in enedis_calls(upstream, since))
    for point, series, first, end in wanted:
        cached = cluster.cache.read_range(point.user_id, point.id, series, first, end)
        for day, points_of_day in cached.days.items():
            starts = [p["start"] for p in points_of_day]
            assert len(starts) == len(set(starts))  # nothing twice
            assert [p["watts"] for p in points_of_day] == [w for _, w in enedis_data.curve(point.pdl, day, "consumption")]


def test_cache_equals_the_sandbox_on_dst_days(cluster, accounts, wait_until):
    (point,) = accounts.points(["22516914714270"])
    windows = [(date(2026, 3, 26), date(2026, 4, 2)), (date(2026, 10, 22), date(2026, 10, 29))]
    wanted = []
    for start, end in windows:
        for series in ("load_curve", "daily_consumption", "max_power"):
            cluster.enqueue(point, series, start, end)
            wanted.append((point, series, start, end))
    wait_for_days(cluster, wanted, wait_until)
    for start, end in windows:
        curve = cluster.cache.read_range(point.user_id, point.id, "load_curve", start, end).days
        daily = cluster.cache.read_range(point.user_id, point.id, "daily_consumption", start, end).days
        peaks = cluster.cache.read_range(point.user_id, point.id, "max_power", start, end).days
        for day in curve:
            truth = enedis_data.curve(point.pdl, day, "consumption")
            assert [p["watts"] for p in curve[day]] == [w for _, w in truth]
            assert sum(p["wh"] for p in curve[day]) == daily[day]["value"] == enedis_data.daily_energy(
                point.pdl, day, "consumption")
            assert peaks[day]["va"] >= max(p["watts"] for p in curve[day])
            starts = [datetime.fromisoformat(p["start"]) for p in curve[day]]
            assert all(s.date() == day for s in starts) and starts == sorted(starts, key=lambda s: s.timestamp())
    assert len(cluster.cache.read_range(point.user_id, point.id, "load_curve", date(2026, 3, 29),
                                        date(2026, 3, 30)).days[date(2026, 3, 29)]) == 46
    fall_back = cluster.cache.read_range(point.user_id, point.id, "load_curve", date(2026, 10, 25),
                                         date(2026, 10, 26)).days[date(2026, 10, 25)]
    assert len(fall_back) == 50
    repeated = [p["start"] for p in fall_back if p["start"][11:13] == "02"]
    assert len(repeated) == 4 and len({r[-6:] for r in repeated}) == 2  # 02:00 and 02:30, at +02:00 then +01:00


def test_a_worker_killed_mid_task_runs_it_again(cluster, upstream, accounts, wait_until):
    (point,) = accounts.points(made_up_pdls(1))
    day = paris_today() - timedelta(days=20)
    fault = upstream.state.add_fault("slow", api="enedis", calls=1, delay=4, path="/metering_data_dc")
    since = time.time()
    cluster.enqueue(point, "daily_consumption", day, day + timedelta(days=1))
    wait_until(lambda: fault.calls == 0, timeout=30, interval=0.05)  # the call is in flight, held by the sandbox
    killed = 0
    for worker in cluster.workers:  # whichever pool process holds it dies without acknowledging
        for child in children_of(worker.target):
            os.kill(child, signal.SIGKILL)
            killed += 1
    assert killed >= 1
    wait_for_days(cluster, [(point, "daily_consumption", day, day + timedelta(days=1))], wait_until)
    cached = cluster.cache.read_range(point.user_id, point.id, "daily_consumption", day, day + timedelta(days=1))
    assert cached.days[day]["value"] == enedis_data.daily_energy(point.pdl, day, "consumption")
    window = f"start={day.isoformat()}"
    # It ran again: the second call answered first; the held one is logged when the sandbox lets it go.
    wait_until(lambda: len([c for c in enedis_calls(upstream, since) if window in c.query]) >= 2, timeout=15)
    assert all(w.poll() is None for w in cluster.workers)


def onboard_and_wait(cluster, point: UsagePoint, wait_until, timeout=120):
    from pipeline.backfill import read_progress

    result = cluster.celery.send_task(tasks.ONBOARD, kwargs={"point_id": point.id}).get(timeout=timeout)

    def finished():
        with session_scope(cluster.settings.database_url) as session:
            progress = read_progress(session, cluster.settings.valkey_url, point.id)
        return progress if progress and progress["done"] >= progress["total"] else None

    progress = wait_until(finished, timeout=timeout, interval=0.5) if result["status"] == "ok" else None
    return result, progress


def reload(database_url, point: UsagePoint) -> UsagePoint:
    with session_scope(database_url) as session:
        fresh = session.get(UsagePoint, point.id)
        session.expunge(fresh)
        return fresh


def test_onboarding_follows_the_point_kind_and_permanent_errors(cluster, upstream, accounts, database_url,
                                                                 wait_until):
    no_curve, production, revoked = accounts.points(["32320647321714", "24880057139941", "26584978546985"])
    since = time.time()

    result, progress = onboard_and_wait(cluster, no_curve, wait_until)
    fresh = reload(database_url, no_curve)
    assert (fresh.kind, fresh.load_curve_enabled, fresh.status) == ("consumption", False, "active")
    assert progress["total"] == result["windows"] >= 6  # daily energy and max power, 36 months each
    contract = cluster.cache.get(no_curve.user_id, "contract", point=no_curve.id)
    assert contract and contract["subscribed_power"]
    lc_calls = [c for c in enedis_calls(upstream, since) if c.path.endswith("consumption_load_curve")]
    # ERR0075 once, then no load-curve window is ever asked (a quota 429 before it is asked again, not counted).
    assert [c.status for c in lc_calls if c.status != 429] == [400]

    result, _ = onboard_and_wait(cluster, production, wait_until)
    assert reload(database_url, production).kind == "production" and result["kind"] == "production"
    end = paris_today() - timedelta(days=1)
    cached = cluster.cache.read_range(production.user_id, production.id, "daily_production", end - timedelta(days=5), end)
    assert len(cached.days) == 5

    result, progress = onboard_and_wait(cluster, revoked, wait_until)
    fresh = reload(database_url, revoked)
    assert (result["status"], fresh.status, fresh.status_reason) == ("consent-needed", "consent_needed", "ADAM-DC-0008")
    assert progress is None


def test_backfill_stops_cleanly_at_the_consent_start(cluster, upstream, accounts, database_url, wait_until):
    (point,) = accounts.points(made_up_pdls(1))
    consent_start = paris_today() - timedelta(days=40)
    upstream.app.config["CONSENT_STARTS"] = {point.pdl: consent_start.isoformat()}
    since = time.time()
    result, progress = onboard_and_wait(cluster, point, wait_until, timeout=180)
    assert progress["done"] == progress["total"] == result["windows"]
    for series in ("daily_consumption", "max_power", "load_curve"):
        assert cluster.cache.history_start(point.user_id, point.id, series) == consent_start
    cached = cluster.cache.read_range(point.user_id, point.id, "load_curve", consent_start - timedelta(days=30),
                                      paris_today() - timedelta(days=3))
    assert min(cached.days) == consent_start and cached.missing == []
    refused = [c for c in enedis_calls(upstream, since) if c.status == 403]
    # The halving search costs a few calls per series; the ~100 older windows are never asked.
    assert len(refused) < 30


def test_starting_workers_fetch_the_public_data_once(cluster, upstream, database_url, wait_until):
    from sqlalchemy import func, select

    from models.ecowatt import EcoWattSignal
    from models.tempo import TempoDay

    def stored():
        with session_scope(database_url) as session:
            tempo = session.scalar(select(func.count()).select_from(TempoDay))
            ecowatt = session.scalar(select(func.count()).select_from(EcoWattSignal))
        return tempo > 0 and ecowatt == 4

    wait_until(stored, timeout=60)
    ecowatt_calls = [c for c in upstream.state.calls_since(0) if "ecowatt" in c.path]
    assert [c.status for c in ecowatt_calls] == [200]  # two workers started, one call: the limiter held


def test_a_late_partial_day_is_fetched_again_and_stored_once(cluster, upstream, accounts, wait_until):
    (point,) = accounts.points(made_up_pdls(1))
    now = datetime.now(PARIS)
    newest = now.date() - timedelta(days=1 if now.hour >= 8 else 2)  # day D is published at 08:00 on D+1
    start, end = newest - timedelta(days=1), newest + timedelta(days=1)
    upstream.state.add_fault("partial", api="enedis", calls=1, points=20, path="/metering_data_clc")
    cluster.enqueue(point, "load_curve", start, end)

    def partial_cached():
        result = cluster.cache.read_range(point.user_id, point.id, "load_curve", start, end)
        return result if newest in result.days else None

    first = wait_until(partial_cached, timeout=60)
    assert len(first.days[newest]) == 20 and first.partial == [newest] and first.missing == [newest]
    cluster.enqueue(point, "load_curve", newest, end)  # what the next refresh pass asks for: the missing day
    wait_until(lambda: not cluster.cache.read_range(point.user_id, point.id, "load_curve", start, end).missing,
               timeout=60)
    final = cluster.cache.read_range(point.user_id, point.id, "load_curve", start, end).days[newest]
    assert [p["watts"] for p in final] == [w for _, w in enedis_data.curve(point.pdl, newest, "consumption")]
