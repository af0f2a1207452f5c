"""Bench case: the consumption page's JSON twin answering from the cache (`--only meters`).

A household with its full history cached (36 months of daily energy and maximum power, 24 months of
half-hours, its contract), signed in:

1. In-process, through the Flask test client: wall and CPU time per request of
   `/api/ui/consommation.json` (a day of curve, and a week), median of `--repeat`; then a
   pyinstrument profile of `--repeat` requests (the heaviest frames, as text; the whole profile is
   written to `bench/results/meter_json_profile.html`).
2. Over HTTP, with gunicorn as the Procfile runs it (`releve web`: 2 workers × 4 threads) and
   `wrk -c8 -t2 --latency` for `--wrk-seconds`: requests/s and latency percentiles of the JSON, and of
   the signed-in FAQ page for comparison. wrk runs on the same machine (its CPU counts against the
   server's); when wrk is not installed this part says so and is skipped.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests

from bench.cache import full_history
from models.cache import EncryptedCache
from models.calendar import last_published_day
from models.db import session_scope
from models.settings import Settings
from releve import embedded

PASSWORD = "un mot de passe de banc d'essai"
AGENT = "releve-bench"
RESULTS = Path(__file__).parent / "results"
RELEVE = str(Path(sys.executable).parent / "releve")


def _household(database_url: str, settings: Settings) -> tuple[int, str, str]:
    from models.usage_points import UsagePoint
    from models.users import User

    rnd = random.Random(5)
    email = f"banc-{rnd.getrandbits(32):08x}-{os.getpid()}@example.org"
    with session_scope(database_url) as session:
        user = User(email=email, is_active=True, email_verified_at=datetime.now(UTC))
        user.set_password(PASSWORD)
        session.add(user)
        session.flush()
        point = UsagePoint(pdl=f"96{rnd.randrange(10**12):012d}", user_id=user.id, kind="consumption",
                           load_curve_enabled=True)
        session.add(point)
        session.flush()
        user_id, point_id, pdl = user.id, point.id, point.pdl
    cache = EncryptedCache.from_settings(redis.Redis.from_url(settings.valkey_url), settings)
    last = last_published_day(datetime.now(UTC))
    from datetime import timedelta
    for series, days in full_history(last + timedelta(days=1), rnd).items():
        cache.put_days(user_id, point_id, series, days)
        cache.set_history_start(user_id, point_id, series, min(days))
    cache.put(user_id, "contract", {"subscribed_power_kva": 9, "subscribed_power": "9 kVA",
                                    "offpeak_hours": "HC (22H00-6H00)"}, point=point_id)
    return user_id, pdl, email


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sign_in(get, post, email: str) -> None:
    page = get("/connexion")
    text = page.get_data(as_text=True) if hasattr(page, "get_data") else page.text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text).group(1)
    answer = post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.status_code  # 200: the form again, refused


def _wrk(url: str, cookie: str, seconds: int) -> str:
    out = subprocess.run(["wrk", "-c8", "-t2", f"-d{seconds}s", "--latency", "-H", f"Cookie: {cookie}",
                          "-H", f"User-Agent: {AGENT}", url]
                         + (["-s", os.environ["WRK_SCRIPT"]] if os.environ.get("WRK_SCRIPT") else []),
                         capture_output=True, text=True, timeout=seconds + 60)
    if out.stderr:
        print("    wrk says: " + out.stderr.splitlines()[0][:300])
    out = out.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (f"{float(rps.group(1)) if rps else 0:7.1f} requests/s, p50 {pct.get('50', '?')}, p90 {pct.get('90', '?')}, "
            f"p99 {pct.get('99', '?')}" + (f", {non2xx.group(1)} non-2xx" if non2xx else ""))


def run(database_url: str, valkey_url: str, repeat: int, wrk_seconds: int = 15) -> None:
    from sqlalchemy import delete

    from models.users import User
    from releve.cli import prepare_database

    prepare_database(database_url)
    env = {"RELEVE_ENV": "test", "DATABASE_URL": database_url, "VALKEY_URL": valkey_url,
           "RELEVE_MASTER_KEY": embedded.new_master_key(), "SECRET_KEY": "bench-" + "x" * 40,
           "PATH": os.environ.get("PATH", "")}
    settings = Settings.from_env(env)
    user_id, pdl, email = _household(database_url, settings)
    try:
        from webapp import create_app

        app = create_app({"RELEVE_SETTINGS": settings})
        web = app.test_client()
        _sign_in(web.get, web.post, email)
        urls = {"consumption JSON, a day of curve": f"/api/ui/consommation.json?pdl={pdl}",
                "consumption JSON, a week of curve": f"/api/ui/consommation.json?pdl={pdl}&vue=semaine"}
        print(f"meter JSON through the Flask test client, per request, median of {repeat} "
              f"(load average {os.getloadavg()[0]:.2f}):")
        for name, url in urls.items():
            walls, cpus = [], []
            for _ in range(repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                response = web.get(url)
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
                assert response.status_code == 200 and not response.get_json()["pending"], response.status_code
            print(f"  {name:<40} wall {_median_ms(walls):6.1f} ms, CPU {_median_ms(cpus):6.1f} ms")
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("  (pyinstrument not installed: no profile)")
        else:
            profiler = Profiler(interval=0.0005)
            profiler.start()
            for _ in range(repeat):
                web.get(urls["consumption JSON, a week of curve"])
            profiler.stop()
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "meter_json_profile.html").write_text(profiler.output_html())
            text = profiler.output_text(unicode=False, color=False, show_all=False, short_mode=True)
            print(f"  pyinstrument, {repeat} requests of a week (heaviest frames):")
            for line in [line for line in text.splitlines() if line.strip()][:70]:
                print("    " + line)
        app.extensions["celery"].close()

        if not shutil.which("wrk"):
            print("wrk is not installed: the HTTP part is skipped (apt-get install wrk)")
            return
        port = _free_port()
        server_env = {**os.environ, **env, "PUBLIC_URL": f"http://127.0.0.1:{port}"}  # cookies over plain HTTP
        RESULTS.mkdir(exist_ok=True)
        server_log = open(RESULTS / "meter_web.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen([RELEVE, "web", "--bind", f"127.0.0.1:{port}"], env=server_env,
                                  stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while True:
                try:
                    requests.get(base + "/livez", timeout=2)
                    break
                except requests.RequestException:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.3)
            http = requests.Session()
            http.headers["User-Agent"] = AGENT  # Flask-Login's session protection binds the session to it
            _sign_in(lambda path: http.get(base + path, timeout=10),
                     lambda path, data: http.post(base + path, data=data, timeout=10, allow_redirects=False), email)
            cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
            for url in [*urls.values(), "/faq"]:
                for _ in range(4):  # warm both workers' imports; what wrk sends must be answered 200
                    answer = requests.get(base + url, headers={"Cookie": cookie, "User-Agent": AGENT}, timeout=10,
                                          allow_redirects=False)
                    assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])
            print(f"over HTTP: `releve web` (gunicorn, 2 workers x 4 threads), wrk -c8 -t2 -d{wrk_seconds}s on the same "
                  f"machine (load average before: {os.getloadavg()[0]:.2f}):")
            for name, url in [*urls.items(), ("FAQ page, signed in", "/faq")]:
                print(f"  {name:<40} {_wrk(base + url, cookie, wrk_seconds)}")
        finally:
            server.terminate()
            server.wait(timeout=30)
            server_log.close()
    finally:
        with session_scope(database_url) as session:
            session.execute(delete(User).where(User.id == user_id))
