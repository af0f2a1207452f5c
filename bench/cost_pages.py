"""Bench case: the cost pages answering from the cache, and the simulator's task in CPU time.

A household at 9 kVA with 24 months of half-hours cached (a made-up but plausible curve), its off-peak
hours (22:00–06:00) recorded, Tempo colours for every day, EJP and Sobriété days declared complete
(made up for the bench: load, not a statement of any real calendar), and EJP as its chosen offer, so
that the simulator prices every offer seeded at 9 kVA (EJP is closed to new customers and is only
compared for a household that has it).

1. The simulation task, run in-process (`apply()`; everything is cached, so nothing is fetched):
   CPU time (`time.process_time`) and wall time per run, then its parts: the year of half-hours read
   from the cache and summed per day, and the engine pricing every offer and ranking them.
2. Pages through the Flask test client, signed in (in-process, no HTTP: what the app spends, in wall
   time and in this process's CPU time, which a busy machine inflates less):
   the simulator page and its JSON twin once a result is cached; "Consommation (€)" with its results
   cached, and computed afresh (the readings' version bumped before each request).

Servers as `python -m bench` finds them (database `releve_bench`, Redis database 12).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import redis

from models.cache import EncryptedCache
from models.calendar import PARIS, last_published_day
from models.daypack import energy_wh
from models.db import session_scope
from models.keys import readings_version_key
from models.settings import Settings
from releve import embedded

PASSWORD = "un mot de passe de banc d'essai"


def _curve(first: date, last: date, rnd: random.Random) -> dict[date, list[dict]]:
    days: dict[date, list[dict]] = {}
    t = datetime(first.year, first.month, first.day, tzinfo=PARIS).astimezone(UTC)
    stop = datetime(last.year, last.month, last.day, tzinfo=PARIS).astimezone(UTC) + timedelta(days=1)
    while t < stop:
        local = t.astimezone(PARIS)
        watts = rnd.randrange(150, 600) + (1800 if 18 <= local.hour < 22 else 0) + (2500 if local.hour in (2, 3) else 0)
        days.setdefault(local.date(), []).append({"start": local.isoformat(), "minutes": 30, "watts": watts,
                                                  "wh": energy_wh(watts, 30)})
        t += timedelta(minutes=30)
    return days


def _household(database_url: str, settings: Settings, rnd: random.Random) -> tuple[int, int, str, str]:
    from sqlalchemy import select

    from models.day_calendars import set_coverage, set_days
    from models.offers import Offer
    from models.offpeak_history import record_offpeak
    from models.tempo import TempoDay
    from models.usage_points import UsagePoint
    from models.users import User

    last = last_published_day(datetime.now(UTC))
    first = date(last.year - 2, last.month, 1)
    days = [first - timedelta(days=1) + timedelta(days=i) for i in range((last - first).days + 2)]
    winter = [d for d in days if d.month in (11, 12, 1, 2, 3) and d.weekday() < 5]
    email = f"banc-{rnd.getrandbits(32):08x}@example.org"
    with session_scope(database_url) as session:
        red, white = set(rnd.sample(winter, 44)), set(rnd.sample(days, 86))
        existing = set(session.scalars(select(TempoDay.day)))
        now = datetime.now(UTC)
        session.add_all(TempoDay(day=d, colour="RED" if d in red else "WHITE" if d in white else "BLUE",
                                 updated_at=now, fetched_at=now) for d in days if d not in existing)
        for kind, count in (("ejp", 44), ("sobriete", 20)):
            picked = [d for d in rnd.sample(winter, count)]
            set_days(session, kind, picked, "bench")
            set_coverage(session, kind, days[0], days[-1], "bench")
        ejp = session.scalar(select(Offer).where(Offer.code == "EDF_TRV_EJP"))
        user = User(email=email, is_active=True, email_verified_at=now)
        user.set_password(PASSWORD)
        session.add(user)
        session.flush()
        point = UsagePoint(pdl=f"97{rnd.randrange(10**12):012d}", user_id=user.id, kind="consumption",
                           offer_id=ejp.id)
        session.add(point)
        session.flush()
        record_offpeak(session, point.id, "HC (22H00-6H00)", first)
        user_id, point_id, pdl = user.id, point.id, point.pdl
    cache = EncryptedCache.from_settings(redis.Redis.from_url(settings.valkey_url), settings)
    cache.put(user_id, "contract", {"subscribed_power_kva": 9, "subscribed_power": "9 kVA",
                                    "offpeak_hours": "HC (22H00-6H00)"}, point=point_id)
    cache.put_days(user_id, point_id, "load_curve", _curve(first, last, rnd))
    cache.set_history_start(user_id, point_id, "load_curve", first)
    return user_id, point_id, pdl, email


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def run(database_url: str, valkey_url: str, repeat: int) -> None:
    from sqlalchemy import delete

    from models.users import User
    from pipeline import tasks
    from pipeline.celery_app import create_celery
    from pipeline.costs import offer_choice, read_consumption, year_back
    from releve.cli import prepare_database

    prepare_database(database_url)  # the offer catalogue, as `releve db upgrade` seeds it
    settings = Settings.from_env({"RELEVE_ENV": "test", "DATABASE_URL": database_url, "VALKEY_URL": valkey_url,
                                  "RELEVE_MASTER_KEY": embedded.new_master_key(),
                                  "SECRET_KEY": "bench-" + "x" * 40, "PATH": os.environ.get("PATH", "")})
    rnd = random.Random(13)
    user_id, point_id, pdl, email = _household(database_url, settings, rnd)
    celery = create_celery(settings)
    client = redis.Redis.from_url(valkey_url)
    try:
        last = last_published_day(datetime.now(UTC))
        simulate = celery.tasks[tasks.SIMULATE]
        cpu, wall = [], []
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            outcome = simulate.apply(kwargs={"point_id": point_id, "last": last.isoformat()}).get()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        assert outcome["status"] == "ok" and outcome["left"] == 0, outcome

        # Its parts, on the same inputs.
        from pipeline.costs import engine_inputs
        from models.costs import compare, cost_offer
        from models.usage_points import UsagePoint

        cache = EncryptedCache.from_settings(client, settings)
        read_cpu, engine_cpu = [], []
        with session_scope(database_url) as session:
            point = session.get(UsagePoint, point_id)
            choice = offer_choice(session, cache, point)
            first = year_back(last)
            inputs = engine_inputs(session, point, 9, choice.available, first, last, cache)
            for _ in range(repeat):
                c0 = time.process_time()
                consumption, _ = read_consumption(cache, point, first, last)
                c1 = time.process_time()
                results = [cost_offer(consumption, spec, inputs.meter, inputs.calendars) for spec in inputs.specs.values()]
                comparison = compare(results)
                c2 = time.process_time()
                read_cpu.append(c1 - c0)
                engine_cpu.append(c2 - c1)
        offers = len(inputs.specs)
        print(f"simulation task, {first} to {last} ({(last - first).days + 1} days of half-hours, "
              f"{offers} offers seeded at 9 kVA), median of {repeat}:")
        print(f"  task run in-process (nothing to fetch): CPU {_median_ms(cpu):6.1f} ms, wall {_median_ms(wall):6.1f} ms")
        print(f"    of which reading the year from the cache and summing it per day: CPU {_median_ms(read_cpu):6.1f} ms")
        print(f"    of which the engine, {offers} offers priced and ranked:           CPU {_median_ms(engine_cpu):6.1f} ms"
              f"  ({len(comparison.ranked)} ranked over {len(comparison.days)} days)")

        from webapp import create_app

        app = create_app({"RELEVE_SETTINGS": settings})
        web = app.test_client()
        login = web.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
        assert web.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token}).status_code == 302

        def timed(url: str, before=None) -> tuple[float, float]:
            walls, cpus = [], []
            for _ in range(repeat):
                if before:
                    before()
                w0, c0 = time.perf_counter(), time.process_time()
                response = web.get(url)
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
                assert response.status_code == 200, (url, response.status_code)
            return _median_ms(walls), _median_ms(cpus)

        def new_readings() -> None:  # what a worker's write does: the cached results no longer apply
            client.hincrby(readings_version_key(point_id), "load_curve", 1)

        tempo = next(o.id for o in choice.available if o.option == "TEMPO")
        rows = [
            ("/simulateur (result cached)", timed(f"/simulateur?pdl={pdl}")),
            ("/api/ui/simulateur.json (result cached)", timed(f"/api/ui/simulateur.json?pdl={pdl}")),
            ("/consommation-euros, 12 months (results cached)", timed(f"/consommation-euros?pdl={pdl}")),
            ("/consommation-euros, 24 months + Tempo side by side (cached)",
             timed(f"/consommation-euros?pdl={pdl}&mois=24&comparer={tempo}")),
            ("/consommation-euros, 12 months (computed: new readings)",
             timed(f"/consommation-euros?pdl={pdl}", new_readings)),
            ("/consommation-euros, 24 months + Tempo (computed: new readings)",
             timed(f"/consommation-euros?pdl={pdl}&mois=24&comparer={tempo}", new_readings)),
        ]
        print(f"cost pages through the Flask test client, per request, median of {repeat}:")
        print(f"  {'':<66} {'wall ms':>8} {'CPU ms':>8}")
        for name, (wall_ms, cpu_ms) in rows:
            print(f"  {name:<66} {wall_ms:8.1f} {cpu_ms:8.1f}")
        app.extensions["celery"].close()
    finally:
        celery.close()
        with session_scope(database_url) as session:
            session.execute(delete(User).where(User.id == user_id))
        client.flushdb()
