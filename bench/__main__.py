"""`make bench` (`python -m bench`): measured numbers for the pipeline, on this machine.

1. Upstream-limit utilisation during a backfill: N points onboarded at once by two real
   `releve worker` processes against the sandbox over HTTP; achieved Enedis calls per
   second (as the sandbox logged them) divided by ENEDIS_RATE_PER_SECOND.
2. A cached two-year load-curve range read (730 days, 48 points a day, decrypted and
   decoded) against a raw Valkey MGET of the same bytes.
3. The cost engine: 12 months of half-hours priced against a dozen offers, in CPU time
   (`--only costs` needs no server).
4. Only with `--only outages` (bench/outages.py): backfills through a Valkey crash, a Valkey
   restarted empty, PostgreSQL stopped (20 s each) and the sandbox down for 120 s, with
   production settings, on servers of its own.
5. The cost pages answering from the cache, and the simulator's task in CPU time (`--only pages`;
   bench/cost_pages.py).

Servers: DATABASE_URL / VALKEY_URL when set, else PostgreSQL and Redis on 127.0.0.1
(database `releve_bench`, Redis database 12), which the bench empties first.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import redis
from sqlalchemy import delete

from bench import bench_database, cache, cost_pages, costs, meter_pages, week
from models.calendar import PARIS
from models.db import session_scope
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from releve import embedded
from sandbox.testing import running_sandbox

RELEVE = str(Path(sys.executable).parent / "releve")


def servers() -> tuple[str, str]:
    valkey_url = os.environ.get("VALKEY_URL", "redis://127.0.0.1:6379/12")
    redis.Redis.from_url(valkey_url).flushdb()
    return bench_database("releve_bench"), valkey_url


def tree_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU time of processes `roots` and their descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    keep, frontier = set(roots), list(roots)
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in keep:
                keep.add(child)
                frontier.append(child)
    return sum(times.get(pid, 0.0) for pid in keep)


def burn_other_core(seconds: float) -> subprocess.Popen:
    """A process spinning on one core for `seconds` (the "other core busy" run)."""
    return subprocess.Popen([sys.executable, "-c", f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"],
                            start_new_session=True)


def backfill_utilisation(database_url: str, valkey_url: str, points: int, seconds: float, rate: float, *,
                         busy: bool = False, per_hour: int = 10_000) -> None:
    """`points` onboarded at once by two `releve worker` processes (2 processes each); Enedis calls as the
    sandbox logged them. With `busy`, a process spins on a core meanwhile; with a lowered `per_hour`, the
    hourly quota binds within the run (the sandbox enforces the same figure)."""
    with running_sandbox({"REGISTER_ALL": True, "RATE_PER_HOUR": per_hour}) as sandbox:  # made-up PRMs, no consent page
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENEDIS_", "RTE_", "RELEVE_"))}
        env.update(RELEVE_ENV="test", DATABASE_URL=database_url, VALKEY_URL=valkey_url,
                   RELEVE_MASTER_KEY=embedded.new_master_key(), SECRET_KEY="bench-" + "x" * 40,
                   ENEDIS_API_URL=sandbox.url, RTE_API_URL=sandbox.url, RTE_TOKEN_URL=f"{sandbox.url}/token/oauth/",
                   ENEDIS_RATE_PER_SECOND=str(rate), ENEDIS_RATE_PER_HOUR=str(per_hour),
                   WORKER_SHUTDOWN_SECONDS="5")  # stop at the end of the run, whatever waits in the workers
        settings = Settings.from_env(env)
        from pipeline.celery_app import create_celery, enqueue
        from pipeline.services import enedis_limiter
        from pipeline.tasks import ONBOARD
        from pipeline.backfill import read_progress

        celery = create_celery(settings)
        enedis_limiter(redis.Redis.from_url(valkey_url), settings).reset()  # no grant of an earlier run counts

        workers = [subprocess.Popen([RELEVE, "worker", "--concurrency", "2", "--hostname", f"bench{i}@%h"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                   for i in (1, 2)]
        burner = None
        try:
            while len(celery.control.ping(timeout=0.5)) < 2:
                time.sleep(0.2)
            with session_scope(database_url) as session:
                user = User(email=f"bench-{random.getrandbits(32):x}@example.org", password_hash="-")
                session.add(user)
                session.flush()
                rows = [UsagePoint(pdl=f"98{random.randrange(10**12):012d}", user_id=user.id) for _ in range(points)]
                session.add_all(rows)
                session.flush()
                ids, user_id = [r.id for r in rows], user.id
            burner = burn_other_core(seconds + 5) if busy else None
            cpu_before = tree_cpu_seconds([w.pid for w in workers])
            start = time.time()
            for point_id in ids:
                enqueue(celery, ONBOARD, {"point_id": point_id})
            deadline = start + seconds
            while time.time() < deadline:
                with session_scope(database_url) as session:
                    progress = [read_progress(session, valkey_url, i) for i in ids]
                if all(p and p.get("done", 0) >= p.get("total", 1) for p in progress):
                    break
                time.sleep(1)
            end = time.time()
            cpu = tree_cpu_seconds([w.pid for w in workers]) - cpu_before
            calls = [c for c in sandbox.state.calls_since(start) if c.api == "enedis" and c.t <= end]
            with session_scope(database_url) as session:
                progress = [read_progress(session, valkey_url, i) for i in ids]
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:  # its own session: the group is the worker and its children
                    os.killpg(w.pid, signal.SIGKILL)
                    w.wait(timeout=30)
            with session_scope(database_url) as session:
                session.execute(delete(User).where(User.id == user_id))
    ok = sorted(c.t for c in calls if c.status != 429)
    refused = sum(1 for c in calls if c.status == 429)
    span = ok[-1] - ok[0] if len(ok) > 1 else 0
    achieved = (len(ok) - 1) / span if span else 0.0
    busiest = max((sum(1 for t in ok if s <= t < s + 1) for s in ok), default=0)
    done = sum(p.get("done", 0) for p in progress)
    total = sum(p.get("total", 0) for p in progress)
    load = os.getloadavg()
    print(f"backfill of {points} points, 2 workers x 2 processes, limit {rate:g}/s and {per_hour}/h, "
          f"{'other core busy' if busy else 'no extra load'}, measured over {end - start:.0f} s "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}):")
    print(f"  Enedis calls logged by the sandbox: {len(calls)}, of which {refused} were 429 "
          f"({refused / max(1, len(calls)) * 1000:.2f} per 1,000 calls)")
    if refused:
        print("  the 429s came at " + ", ".join(f"{c.t - start:.0f} s" for c in calls if c.status == 429)
              + " into the run (each widens the margin for 10 minutes)")
    print(f"  answered calls: {len(ok)} over {span:.1f} s -> {achieved:.2f} calls/s -> utilisation {achieved / rate:.1%} "
          f"of {rate:g}/s; busiest 1-s window {busiest}")
    if per_hour < len(calls) + 1000:
        first_hour = sum(1 for t in ok if t < ok[0] + 3600) if ok else 0
        print(f"  hourly quota: {first_hour} answered calls within the first hour of the run for a limit of {per_hour}"
              f" ({first_hour / per_hour:.1%} of it); the rest of the hour the limiter holds every window back")
    print(f"  backfill windows done {done}/{total} (the others wait in the queues or as scheduled retries)")
    print(f"  worker CPU (4 processes and their parents): {cpu:.1f} s for {len(calls)} calls -> "
          f"{cpu / max(1, len(calls)) * 1000:.1f} ms of CPU per upstream call (parsing, sealing, queueing included; "
          "when the hourly quota binds, also every queued window run once and rescheduled)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120, help="measure the backfill for at most this long")
    parser.add_argument("--rate", type=float, default=5, help="ENEDIS_RATE_PER_SECOND (the sandbox allows 5/s)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--busy", action="store_true", help="backfill: a process spins on one core meanwhile")
    parser.add_argument("--per-hour", type=int, default=10_000,
                        help="backfill: ENEDIS_RATE_PER_HOUR and the sandbox's hourly quota (lower it to simulate an hour)")
    parser.add_argument("--wrk-seconds", type=int, default=15, help="meters: how long wrk loads each URL")
    parser.add_argument("--only", choices=("backfill", "cache", "costs", "pages", "meters", "week", "outages"),
                        help="outages (bench/outages.py, ~15 minutes) runs only when asked")
    parser.add_argument("--outage-points", type=int, default=2, help="meters backfilled during each outage")
    parser.add_argument("--outage-budget", type=float, default=900,
                        help="give up waiting for a backfill this long after its outage ended")
    parser.add_argument("--scenario", action="append", choices=("valkey-killed", "valkey-empty", "postgresql",
                                                                "sandbox"), help="outages: only these (repeatable)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's access log
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {datetime.now(PARIS):%Y-%m-%d %H:%M %Z}")
    if args.only == "outages":
        from bench.outages import outages

        outages(args.outage_points, args.outage_budget, args.scenario, args.rate)
        return
    if args.only in (None, "costs"):
        costs.run(args.repeat)
    if args.only == "costs":
        return  # pure code: no server to prepare
    database_url, valkey_url = servers()
    if args.only in (None, "cache"):
        cache.run(valkey_url, args.repeat)
    if args.only in (None, "week"):
        week.run(database_url, valkey_url)
    if args.only in (None, "meters"):
        meter_pages.run(database_url, valkey_url, args.repeat, args.wrk_seconds)
    if args.only in (None, "pages"):
        cost_pages.run(database_url, valkey_url, args.repeat)
    if args.only in (None, "backfill"):
        backfill_utilisation(database_url, valkey_url, args.points, args.seconds, args.rate, busy=args.busy,
                             per_hour=args.per_hour)


if __name__ == "__main__":
    main()
