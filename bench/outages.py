"""`python -m bench --only outages`: the outages of issue #12 at full length, with production settings.

A `releve worker` (2 pool processes) and `releve beat` backfill meters from the sandbox while one of
these goes away: Valkey killed (SIGKILL) for 20 s then started again on its append-only file; Valkey
killed for 20 s and started again empty; PostgreSQL stopped for 20 s; the sandbox down for 120 s.
The servers are the bench's own (a Valkey on a free port, an embedded PostgreSQL in a temporary
directory), never the machine's. Settings are the defaults (RETRY_BACKOFF_SECONDS 10,
OUTAGE_RETRY_MAX_SECONDS 300, RECOVERY_CHECK_SECONDS 60, BACKFILL_STALL_SECONDS 300), except the
Enedis rate, which matches the sandbox's quota.

For each: how long until every window is done after the outage ended, how many windows were fetched
twice (and whether any after it was done), what each process logged about the outage, and whether
every process is still alive.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

import redis
from sqlalchemy import select

from models.backfills import BackfillWindow
from models.calendar import today_paris
from models.db import dispose_engines, session_scope
from models.keys import BEAT_HEARTBEAT_KEY
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from releve import embedded
from sandbox.testing import running_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tests_helpers import OwnPostgres, OwnValkey  # noqa: E402 - the tests' servers that can go away

RELEVE = str(Path(sys.executable).parent / "releve")
PATHS = {"daily_consumption": "/metering_data_dc/v5/daily_consumption",
         "max_power": "/metering_data_dcmp/v5/daily_consumption_max_power",
         "load_curve": "/metering_data_clc/v5/consumption_load_curve"}
SCENARIOS = ("valkey-killed", "valkey-empty", "postgresql", "sandbox")
LENGTHS = {"valkey-killed": 20, "valkey-empty": 20, "postgresql": 20, "sandbox": 120}


class Stack:
    def __init__(self, root: Path, rate: float):
        from releve.cli import prepare_database

        self.root = root
        self.valkey = OwnValkey(root)
        self.valkey.start()
        self.postgres = OwnPostgres(root)
        self.database_url = self.postgres.start()
        atexit.unregister(self.postgres.pg._server._cleanup)  # it knows only the first postmaster
        prepare_database(self.database_url)
        self.sandbox_cm = running_sandbox({"REGISTER_ALL": True, "RATE_PER_SECOND": int(rate)})
        self.upstream = self.sandbox_cm.__enter__()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENEDIS_", "RTE_", "RELEVE_", "TEST_"))}
        env.update(RELEVE_ENV="test", DATABASE_URL=self.database_url, VALKEY_URL=self.valkey.url,
                   RELEVE_MASTER_KEY=embedded.new_master_key(), SECRET_KEY="bench-" + "x" * 40,
                   ENEDIS_API_URL=self.upstream.url, RTE_API_URL=self.upstream.url,
                   RTE_TOKEN_URL=f"{self.upstream.url}/token/oauth/", ENEDIS_RATE_PER_SECOND=str(rate))
        self.env = env
        self.settings = Settings.from_env(env)
        from pipeline.celery_app import create_celery

        self.celery = create_celery(self.settings)
        self.logs = {name: root / f"{name}.log" for name in ("worker", "beat")}
        self.procs = {
            "worker": self._spawn("worker", [RELEVE, "worker", "--concurrency", "2", "--hostname", "bench-outages@%h"]),
            "beat": self._spawn("beat", [RELEVE, "beat"]),
        }
        client = redis.Redis.from_url(self.valkey.url)
        deadline = time.monotonic() + 120
        while not (self.celery.control.ping(timeout=0.5) and client.exists(BEAT_HEARTBEAT_KEY)):
            if time.monotonic() > deadline:
                raise RuntimeError("worker or beat did not start")

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        with self.logs[name].open("ab") as out:
            return subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.celery.close()
        self.sandbox_cm.__exit__(None, None, None)
        dispose_engines()
        self.postgres.close()
        self.valkey.stop()


def add_points(stack: Stack, n: int) -> list[UsagePoint]:
    from pipeline import tasks
    from pipeline.celery_app import enqueue

    with session_scope(stack.database_url) as session:
        user = User(email=f"bench-outage-{random.getrandbits(40):x}@example.org", password_hash="-")
        session.add(user)
        session.flush()
        points = [UsagePoint(pdl=f"95{random.randrange(10**12):012d}", user_id=user.id) for _ in range(n)]
        session.add_all(points)
        session.flush()
        session.expunge_all()
    for point in points:
        enqueue(stack.celery, tasks.ONBOARD, {"point_id": point.id})
    return points


def progress(stack: Stack, points) -> tuple[int, int]:
    from pipeline.backfill import read_progress

    try:
        with session_scope(stack.database_url) as session:
            found = [read_progress(session, stack.valkey.url, p.id) for p in points]
    except Exception:  # noqa: BLE001 - PostgreSQL or Valkey is down right now
        return -1, -1
    return sum(p.get("done", 0) for p in found), sum(p.get("total", 0) for p in found) if all(found) else -1


def run(stack: Stack, scenario: str, points_per_run: int, budget: float) -> dict:
    length = LENGTHS[scenario]
    log_start = {name: path.stat().st_size for name, path in stack.logs.items()}
    points = add_points(stack, points_per_run)
    since = time.time()
    while progress(stack, points)[0] < 30:
        time.sleep(0.2)
    down = time.time()
    if scenario.startswith("valkey"):
        stack.valkey.kill()
        if scenario == "valkey-empty":
            stack.valkey.wipe()
    elif scenario == "postgresql":
        stack.postgres.stop()
    else:
        stack.upstream.stop()
    time.sleep(length)
    if scenario.startswith("valkey"):
        stack.valkey.start()
    elif scenario == "postgresql":
        stack.postgres.restart()
    else:
        stack.upstream.start()
    back = time.time()
    while True:
        done, total = progress(stack, points)
        if total > 0 and done >= total or time.time() - back > budget:
            break
        time.sleep(1)
    finished = time.time()
    return {"scenario": scenario, "outage": back - down, "after": finished - back, "done": done, "total": total,
            **calls_report(stack, points, since), "alive": stack.alive(),
            "logs": {name: log_lines(path, log_start[name]) for name, path in stack.logs.items()}}


def calls_report(stack: Stack, points, since: float) -> dict:
    from datetime import timedelta

    from models.cache import EncryptedCache

    cache = EncryptedCache.from_settings(redis.Redis.from_url(stack.valkey.url), stack.settings)
    twice = after_done = not_cached = 0
    for point in points:
        found = Counter()
        times: dict[tuple, list[float]] = {}
        for call in stack.upstream.state.calls_since(since):
            query = {k: v[0] for k, v in parse_qs(call.query).items()}
            if call.status == 200 and query.get("usage_point_id") == point.pdl and call.path in PATHS.values():
                key = (call.path, query["start"], query["end"])
                found[key] += 1
                times.setdefault(key, []).append(call.t)
        with session_scope(stack.database_url) as session:
            rows = session.execute(select(BackfillWindow.series, BackfillWindow.start_day, BackfillWindow.end_day,
                                          BackfillWindow.done_at)
                                   .where(BackfillWindow.point_id == point.id)).all()
        today = today_paris()
        for series, start, end, done_at in rows:
            key = (PATHS[series], start.isoformat(), min(end, today).isoformat())
            twice += found[key] > 1
            if done_at is not None:
                after_done += sum(1 for t in times.get(key, []) if t > done_at.timestamp())
            settled = min(end, today - timedelta(days=3))
            not_cached += start < settled and bool(cache.read_range(point.user_id, point.id, series, start,
                                                                    settled).missing)
    return {"fetched_twice": twice, "fetched_after_done": after_done, "not_cached": not_cached}


def log_lines(path: Path, start: int) -> dict[str, int]:
    with path.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    return {"unreachable": text.count(" unreachable ("), "back": text.count("reachable again"),
            "tracebacks": text.count("Traceback"), "resumed": text.count("enqueued again"),
            "lines": text.count("\n")}


def outages(points: int, budget: float, only: list[str] | None = None, rate: float = 5) -> None:
    root = Path(tempfile.mkdtemp(prefix="releve-bench-outages-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as another user when started as root
    stack = Stack(root, rate)
    print(f"outages, production settings ({stack.settings.retry_backoff_seconds:g} s backoff, outage waits up "
          f"to {stack.settings.outage_retry_max_seconds:g} s, recovery check every "
          f"{stack.settings.recovery_check_seconds:g} s, stall {stack.settings.backfill_stall_seconds:g} s), "
          f"{points} points a run, limit {rate:g}/s:")
    try:
        for scenario in only or SCENARIOS:
            r = run(stack, scenario, points, budget)
            logs = "; ".join(f"{name}: {v['unreachable']} 'unreachable', {v['back']} 'back', "
                             f"{v['tracebacks']} tracebacks, {v['lines']} lines" for name, v in r["logs"].items())
            print(f"  {scenario:14} down {r['outage']:5.1f} s; all {r['total']} windows done {r['after']:6.1f} s "
                  f"after it came back ({r['done']}/{r['total']}); not cached {r['not_cached']}; fetched twice "
                  f"{r['fetched_twice']}, after done {r['fetched_after_done']}; recovery check resumed {r['logs']['worker']['resumed']} backfills; "
                  f"alive {r['alive']}")
            print(f"  {'':14} {logs}")
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)
