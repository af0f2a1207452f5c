"""Outages survived by real processes: a worker and beat (`releve worker`, `releve beat`) backfill meters
from the sandbox over HTTP while Valkey, PostgreSQL or the sandbox goes away and comes back.

The servers are the test's own: a Valkey on a port of its own with its append-only file (killed with
SIGKILL, then started again on its file, or empty), an embedded PostgreSQL in a directory of its own
(stopped and started with pg_ctl; the machine's PostgreSQL is never touched), the sandbox in this
process (its port closed, then opened again). Outages here last a few seconds, with backoffs and the
recovery check shortened through settings (same code paths); `python -m bench outages` runs the full
lengths (Valkey 20 s, PostgreSQL 20 s, sandbox 120 s).

Each test ends with: every window of every point done in PostgreSQL and its days in the cache; no
window fetched upstream after it was done (the sandbox's call log, against the time PostgreSQL
recorded it done) and, where the outage could not have cost a cached answer, fetched once only;
progress at 100 %; the worker and beat alive and beating. No timing is asserted.
"""

from __future__ import annotations

import atexit
import random
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select

from models.backfills import BackfillWindow
from models.cache import EncryptedCache
from models.db import dispose_engines, session_scope
from models.keys import BEAT_HEARTBEAT_KEY, WORKERS_HEARTBEAT_KEY
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from pipeline import tasks
from pipeline.backfill import read_progress
from pipeline.celery_app import create_celery, enqueue
from sandbox.testing import running_sandbox
from tests_helpers import OwnPostgres, OwnValkey, Processes, at_exit, guarded, shared_tmp_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

OUTAGE = 6  # seconds down (bench/: 20 s, 20 s, 120 s)
SHORTENED = {  # the same behaviour, on a test's time scale
    "RETRY_BACKOFF_SECONDS": "0.5",
    "OUTAGE_RETRY_MAX_SECONDS": "2",
    "RECOVERY_CHECK_SECONDS": "2",
    "BACKFILL_STALL_SECONDS": "8",
}
PATHS = {"daily_consumption": "/metering_data_dc/v5/daily_consumption",
         "max_power": "/metering_data_dcmp/v5/daily_consumption_max_power",
         "load_curve": "/metering_data_clc/v5/consumption_load_curve"}
PARIS = ZoneInfo("Europe/Paris")


@dataclass
class Stack:
    settings: Settings
    celery: object
    valkey: OwnValkey
    postgres: OwnPostgres
    upstream: object
    worker: object
    beat: object
    cache: EncryptedCache

    @property
    def processes(self) -> list:
        return [self.worker, self.beat]


@pytest.fixture(scope="module")
def stack(env_for):
    from releve.cli import prepare_database

    root = shared_tmp_dir("releve-outages-")
    valkey = OwnValkey(root, launcher=guarded([]))
    valkey.start()
    postgres = OwnPostgres(root)
    database_url = postgres.start()
    # Should this session be killed outright, the watchdog stops the server pg_ctl detached.
    Processes().run(postgres.pg.stop_argv(), {}, root / "watchdog.log", wrap=at_exit)
    atexit.unregister(postgres.pg._server._cleanup)  # pgserver's own cleanup knows only the first postmaster
    prepare_database(database_url)
    processes = Processes()
    with running_sandbox({"REGISTER_ALL": True, "RATE_PER_SECOND": 20}) as upstream:
        env = env_for(DATABASE_URL=database_url, VALKEY_URL=valkey.url, CELERY_BROKER_URL=valkey.url,
                      ENEDIS_API_URL=upstream.url, RTE_API_URL=upstream.url,
                      RTE_TOKEN_URL=f"{upstream.url}/token/oauth/", ENEDIS_RATE_PER_SECOND="15", **SHORTENED)
        settings = Settings.from_env(env)
        celery = create_celery(settings)
        worker = processes.start(["worker", "--concurrency", "2", "--hostname", "outages@%h"], env)
        beat = processes.start(["beat"], env)
        client = redis.Redis.from_url(valkey.url)
        deadline = time.monotonic() + 120
        while not (celery.control.ping(timeout=0.5) and client.exists(BEAT_HEARTBEAT_KEY)):
            assert worker.poll() is None and beat.poll() is None, worker.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "worker or beat did not start"
        try:
            yield Stack(settings, celery, valkey, postgres, upstream, worker, beat,
                        EncryptedCache.from_settings(client, settings))
        finally:
            processes.stop_all(keep_logs=True)
            for proc in processes.procs:
                print(f"--- {proc.log} (last lines)\n" + "\n".join(proc.log.read_text().splitlines()[-40:]))
            celery.close()
            client.close()
            dispose_engines()
            postgres.close()
            valkey.stop()
            shutil.rmtree(root, ignore_errors=True)


def add_points(stack: Stack, pdls: list[str]) -> list[UsagePoint]:
    with session_scope(stack.settings.database_url) as session:
        user = User(email=f"outage-{random.getrandbits(40):x}@example.org", password_hash="-")
        session.add(user)
        session.flush()
        points = [UsagePoint(pdl=pdl, user_id=user.id) for pdl in pdls]
        session.add_all(points)
        session.flush()
        session.expunge_all()
    for point in points:
        enqueue(stack.celery, tasks.ONBOARD, {"point_id": point.id})
    return points


def made_up(n: int) -> list[str]:
    return [f"96{random.randrange(10**12):012d}" for _ in range(n)]


def progress(stack: Stack, points: list[UsagePoint]) -> list[dict[str, int]]:
    with session_scope(stack.settings.database_url) as session:
        return [read_progress(session, stack.valkey.url, p.id) for p in points]


def windows_done(stack: Stack, points: list[UsagePoint]) -> int:
    try:
        return sum(p.get("done", 0) for p in progress(stack, points))
    except Exception:  # noqa: BLE001 - PostgreSQL or Valkey is down in the middle of the test
        return 0


def finished(stack: Stack, points: list[UsagePoint]) -> bool:
    try:
        return all(p and p["done"] == p["total"] > 0 for p in progress(stack, points))
    except Exception:  # noqa: BLE001
        return False


def windows_of(stack: Stack, point: UsagePoint) -> list[BackfillWindow]:
    with session_scope(stack.settings.database_url) as session:
        rows = list(session.scalars(select(BackfillWindow).where(BackfillWindow.point_id == point.id)))
        session.expunge_all()
        return rows


def successful_calls(stack: Stack, point: UsagePoint, since: float) -> dict[tuple, list[float]]:
    """Times of the metering calls upstream answered with data, by (path, start, end), for this point."""
    found = defaultdict(list)
    for call in stack.upstream.state.calls_since(since):
        query = {k: v[0] for k, v in parse_qs(call.query).items()}
        if call.status == 200 and query.get("usage_point_id") == point.pdl and call.path in PATHS.values():
            found[(call.path, query["start"], query["end"])].append(call.t)
    return found


def today() -> date:
    return datetime.now(PARIS).date()


def assert_complete(stack: Stack, points: list[UsagePoint], since: float, wait_until, *,
                    twice_before: float | None = None):
    """Every window done and cached, none fetched after it was done, progress 100 %, processes alive.

    A window may have been fetched twice only when its first answer may have been lost with Valkey
    (`twice_before`: the moment Valkey was back): once before, once after. Before, not "before it went
    down": a call Enedis answered just as Valkey died (the limiter let it through a moment earlier)
    comes back to nothing to write to.
    """
    for p in progress(stack, points):
        assert p["total"] > 0 and p["done"] * 100 // p["total"] == 100
    settled = today() - timedelta(days=3)
    for point in points:
        calls = successful_calls(stack, point, since)
        rows = windows_of(stack, point)
        assert rows and all(w.done_at is not None for w in rows)
        for w in rows:
            first, stop = w.start_day, min(w.end_day, settled)
            if first < stop:
                cached = stack.cache.read_range(point.user_id, point.id, w.series, first, stop)
                assert cached.missing == [], (w.series, first, stop)
            times = calls.get((PATHS[w.series], w.start_day.isoformat(), min(w.end_day, today()).isoformat()), [])
            done = w.done_at.timestamp()
            assert [t for t in times if t > done] == [], (w.series, w.start_day)  # never after it was done
            if twice_before is None:
                assert len(times) <= 1, (w.series, w.start_day, times)
            else:
                assert len([t for t in times if t < twice_before]) <= 1 and len(
                    [t for t in times if t >= twice_before]) <= 1, (w.series, w.start_day, times)
    assert_alive(stack, wait_until)


def assert_alive(stack: Stack, wait_until) -> None:
    assert [proc.poll() for proc in stack.processes] == [None, None]
    client = redis.Redis.from_url(stack.valkey.url)

    def beating():
        now = time.time()
        beat = client.get(BEAT_HEARTBEAT_KEY)
        workers = client.zrange(WORKERS_HEARTBEAT_KEY, 0, -1, withscores=True)
        return beat and now - float(beat) < 60 and any(now - score < 60 for _, score in workers)

    try:
        wait_until(beating, timeout=120, interval=0.5)
    finally:
        client.close()


class Logs:
    """What the worker and beat logged from now on."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.start = {proc: proc.log.stat().st_size for proc in stack.processes}

    def of(self, proc) -> str:
        with proc.log.open("rb") as f:
            f.seek(self.start[proc])
            return f.read().decode(errors="replace")

    def assert_said_once(self, what: str, *, beat: bool) -> None:
        """Each process said `what` went down once (the worker: its two pool processes and its main
        process at most) and that it came back; no traceback."""
        worker, beat_log = self.of(self.stack.worker), self.of(self.stack.beat)
        assert 1 <= worker.count(f"{what} unreachable") <= 3 and f"{what} reachable again" in worker
        if beat:
            assert beat_log.count(f"{what} unreachable") == 1 and f"{what} reachable again" in beat_log
        assert "Traceback" not in worker and "Traceback" not in beat_log


@dataclass
class Run:
    points: list[UsagePoint]
    since: float  # the backfills started
    down: float  # the outage started
    up: float  # what was down is back


def backfill_through(stack: Stack, wait_until, take_down, bring_back, points: int = 2) -> Run:
    """Backfill `points` new meters; once 30 windows are done, `take_down()`, wait OUTAGE s, `bring_back()`;
    return once every backfill finished."""
    added = add_points(stack, made_up(points))
    since = time.time()
    wait_until(lambda: windows_done(stack, added) >= 30, timeout=300, interval=0.2)
    down = time.time()
    take_down()
    time.sleep(OUTAGE)
    bring_back()
    up = time.time()
    wait_until(lambda: finished(stack, added), timeout=600, interval=1)
    return Run(added, since, down, up)


def test_valkey_killed_mid_backfill_and_restarted_on_its_file(stack, wait_until):
    logs = Logs(stack)
    run = backfill_through(stack, wait_until, stack.valkey.kill, stack.valkey.start)
    assert_complete(stack, run.points, run.since, wait_until, twice_before=run.up)
    logs.assert_said_once("Valkey", beat=True)
    # Messages a worker held when Valkey died may be lost: the recovery check took the backfills over.
    assert logs.of(stack.worker).count("interrupted by a restart of Valkey") == len(run.points)


def test_postgresql_stopped_mid_backfill(stack, wait_until):
    logs = Logs(stack)
    run = backfill_through(stack, wait_until, stack.postgres.stop, stack.postgres.restart)
    assert_complete(stack, run.points, run.since, wait_until)
    logs.assert_said_once("PostgreSQL", beat=False)  # beat needs no PostgreSQL


def test_the_sandbox_stopped_mid_backfill(stack, wait_until):
    logs = Logs(stack)
    run = backfill_through(stack, wait_until, stack.upstream.stop, stack.upstream.start)
    assert_complete(stack, run.points, run.since, wait_until)
    logs.assert_said_once("Enedis", beat=False)


def test_valkey_restarted_empty_mid_backfill(stack, wait_until):
    """The broker lost its queues, the claims, the progress copy and the readings: the recovery check
    resumes the unfinished backfills (their lost windows fetched once more), never a finished one."""
    (done_before,) = add_points(stack, ["32320647321714"])  # no load curve: a short backfill
    wait_until(lambda: finished(stack, [done_before]), timeout=300, interval=0.5)
    logs = Logs(stack)

    def crash_and_lose_everything() -> None:
        stack.valkey.kill()
        stack.valkey.wipe()

    run = backfill_through(stack, wait_until, crash_and_lose_everything, stack.valkey.start)
    assert_complete(stack, run.points, run.since, wait_until, twice_before=run.up)
    assert successful_calls(stack, done_before, run.down) == {}  # finished: never started over
    assert finished(stack, [done_before])
    logs.assert_said_once("Valkey", beat=True)
    assert logs.of(stack.worker).count("backfill forgotten by Valkey") == len(run.points)
    assert "beat lost its lock" in logs.of(stack.beat)
