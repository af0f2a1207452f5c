"""Bench case: Enedis calls of a week, by kind of household (`--only week`).

The gateway runs on real time (no injectable clock), so the week is **built from measured per-pass
call counts**: the real tasks run in-process (`Task.apply`) against the sandbox over HTTP, the
messages they enqueue are taken from the broker's lists and run the same way, and the sandbox's
log says which calls each pass made for each meter. Four consumption meters with their load curve:

- a daily visitor and an hourly API poller (their owner's reads keep them used: `releve:used`),
- a weekly visitor (it comes back after a week: everything it had has expired, its page asks),
- an idle meter (nobody reads it).

Measured: (1) the day's five refresh passes (08:15, 09:15, 13:15, 17:15, 21:15) over the four
meters, the first pass of the day fetching D-3 … D-1 afresh; (2) the weekly visitor's return:
its consumption page asks for what it misses, the windows run, and the next day's refresh pass
includes it once (its owner read it within the cache's lifetime). The week is then
7 × the day's count for used meters, plus the return for the weekly visitor. The sandbox clock
is set past 08:00 (D-1 published) so the counts do not depend on when the bench runs.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
from collections import Counter
from datetime import datetime, timedelta

import redis

from models.calendar import PARIS, today_paris
from models.db import session_scope
from models.keys import USED_KEY, cache_pattern
from models.settings import Settings
from releve import embedded
from sandbox.testing import running_sandbox

PASSWORD = "un mot de passe de banc d'essai"
PASSES = (8, 9, 13, 17, 21)
PROFILES = ("daily visitor", "hourly API poller", "weekly visitor", "idle")


def drain(client: redis.Redis, celery, queues: tuple[str, ...]) -> int:
    """Run every message waiting in `queues` in-process (and what they enqueue in turn); how many ran."""
    ran = 0
    while True:
        raw = next((m for q in queues if (m := client.lpop(q)) is not None), None)
        if raw is None:
            return ran
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        celery.tasks[message["headers"]["task"]].apply(args=args, kwargs=kwargs)
        ran += 1


def calls_by_point(sandbox, since: float, prms: dict[str, str]) -> Counter:
    counts: Counter = Counter()
    for call in sandbox.state.calls_since(since):
        if call.api != "enedis" or call.status == 429:
            continue
        match = re.search(r"usage_point_id=(\d{14})", call.query)
        if match and match.group(1) in prms:
            counts[prms[match.group(1)]] += 1
    return counts


def run(database_url: str, valkey_url: str) -> None:
    from sqlalchemy import delete

    from models.usage_points import UsagePoint
    from models.users import User
    from pipeline import tasks
    from pipeline.celery_app import create_celery
    from releve.cli import prepare_database

    prepare_database(database_url)
    client = redis.Redis.from_url(valkey_url)
    client.flushdb()
    rnd = random.Random(11)
    with running_sandbox({"REGISTER_ALL": True}) as sandbox:
        env = {"RELEVE_ENV": "test", "DATABASE_URL": database_url, "VALKEY_URL": valkey_url,
               "CELERY_BROKER_URL": valkey_url, "RELEVE_MASTER_KEY": embedded.new_master_key(),
               "SECRET_KEY": "bench-" + "x" * 40, "ENEDIS_API_URL": sandbox.url, "RTE_API_URL": sandbox.url,
               "RTE_TOKEN_URL": f"{sandbox.url}/token/oauth/", "PATH": os.environ.get("PATH", "")}
        settings = Settings.from_env(env)
        celery = create_celery(settings)
        today = today_paris()
        sandbox.state.set_clock(datetime.combine(today, datetime.min.time(), PARIS).replace(hour=12))
        email = f"semaine-{rnd.getrandbits(32):08x}@example.org"
        with session_scope(database_url) as session:
            user = User(email=email, is_active=True, email_verified_at=datetime.now(PARIS))
            user.set_password(PASSWORD)
            session.add(user)
            session.flush()
            points = {name: UsagePoint(pdl=f"95{rnd.randrange(10**12):012d}", user_id=user.id, kind="consumption",
                                       load_curve_enabled=True) for name in PROFILES}
            session.add_all(points.values())
            session.flush()
            ids = {name: p.id for name, p in points.items()}
            prms = {p.pdl: name for name, p in points.items()}
            user_id = user.id
        try:
            now = int(client.time()[0])
            client.zadd(USED_KEY, {str(ids["daily visitor"]): now, str(ids["hourly API poller"]): now})
            refresh_all = celery.tasks[tasks.REFRESH_ALL]

            def day_of_passes() -> tuple[Counter, list[Counter], int]:
                import time
                since, per_pass, enqueued = time.time(), [], 0
                for hour in PASSES:
                    mark = time.time()
                    at = datetime.combine(today, datetime.min.time(), PARIS).replace(hour=hour, minute=15)
                    client.delete(*client.keys(f"releve:once:refresh_all:{today}:*") or ["-"])
                    enqueued += refresh_all.apply(kwargs={"now": at.isoformat()}).get()
                    drain(client, celery, ("refresh", "interactive", "backfill"))
                    per_pass.append(calls_by_point(sandbox, mark, prms))
                return calls_by_point(sandbox, since, prms), per_pass, enqueued

            # A first day, to reach the steady state (each used meter has D-3 … D-1 cached, D-1 and D-2 not final).
            day_of_passes()
            # The next morning, as far as the cache can tell: D-1 is new (absent), D-2 and D-3 are still to be
            # fetched once more, and the day's claims are new.
            for name in ("daily visitor", "hourly API poller"):
                for series in ("daily_consumption", "max_power", "load_curve"):
                    client.delete(f"releve:c:{user_id}:p{ids[name]}:{series}:{today - timedelta(days=1)}")
                client.delete(*client.keys(f"releve:once:refreshed:{ids[name]}:*") or ["-"])
            day, per_pass, enqueued = day_of_passes()

            # The weekly visitor comes back: nothing of it is cached any more; its page asks for what it shows.
            import time

            from webapp import create_app

            for key in client.scan_iter(match=cache_pattern(user_id, ids["weekly visitor"]), count=1000):
                client.delete(key)
            since = time.time()
            app = create_app({"RELEVE_SETTINGS": settings})
            web = app.test_client()
            login = web.get("/connexion").get_data(as_text=True)
            token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
            assert web.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token}).status_code == 302
            pdl = next(p for p, n in prms.items() if n == "weekly visitor")
            assert web.get(f"/consommation?pdl={pdl}").status_code == 200
            drain(client, celery, ("interactive", "refresh", "backfill"))
            page = calls_by_point(sandbox, since, prms)["weekly visitor"]
            assert not web.get(f"/api/ui/consommation.json?pdl={pdl}").get_json()["pending"]
            app.extensions["celery"].close()
            since = time.time()
            client.delete(*client.keys(f"releve:once:refresh_all:{today}:*") or ["-"])
            refresh_all.apply(kwargs={"now": datetime.combine(today, datetime.min.time(), PARIS)
                                      .replace(hour=8, minute=15).isoformat()}).get()
            drain(client, celery, ("refresh", "interactive", "backfill"))
            next_day = calls_by_point(sandbox, since, prms)["weekly visitor"]
        finally:
            celery.close()
            with session_scope(database_url) as session:
                session.execute(delete(UsagePoint).where(UsagePoint.user_id == user_id))
                session.execute(delete(User).where(User.id == user_id))
            client.flushdb()

    print("Enedis calls, built from measured per-pass counts (real tasks in-process, sandbox over HTTP; "
          f"load average {os.getloadavg()[0]:.2f}):")
    print(f"  a day of refresh passes ({', '.join(f'{h:02d}:15' for h in PASSES)}), refresh_point messages: {enqueued}")
    for name in PROFILES:
        print(f"    {name:<20} {day[name]:3d} calls  (per pass: {[c[name] for c in per_pass]})")
    print(f"  the weekly visitor's return: its page asked for what it showed: {page} calls; "
          f"the next morning's pass (used now): {next_day} calls")
    week = {"daily visitor": 7 * day["daily visitor"], "hourly API poller": 7 * day["hourly API poller"],
            "weekly visitor": page + next_day, "idle": 7 * day["idle"]}
    print("  a week (7 x the day for used meters; one return and one refresh for the weekly visitor):")
    for name in PROFILES:
        print(f"    {name:<20} {week[name]:3d} calls a week ({week[name] / 7:.2f} a day)")
    print("  (the contract is read again once a week by the passes, one more call a week for a used meter, "
          "not in the steady-state day above when it is cached)")
