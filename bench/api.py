"""`python -m bench.api`: `/api/v1` serving a cached year of daily energy, against the same stack serving a
static JSON file of the same size (the ceiling), measured with wrk (the Debian package).

A real `releve web` (gunicorn with the Procfile's settings: `releve web`'s 2 workers x 4 threads), a
PostgreSQL database and a Valkey database of this bench's own: an account with a consumption meter, 365
days of daily energy in the encrypted cache, an API secret with quotas far above what the bench sends.
The ceiling is the body of that API answer written into the app's static folder and served by the same
gunicorn and Flask (`/static/…`), so both go through the same server, workers and middleware. A client
polling the same year, as measured here, is answered from Valkey alone: who the secret is (one MGET of
the kept access, `models.access`), then the answer kept for that range and the quota charged (one Lua
call), decrypted; PostgreSQL is asked once a minute per client. The first request of a range reads
365 sealed days (one MGET) and encodes the JSON.

For each of 8 and 32 connections: requests per second and the 50th/99th percentile latency, for each URL,
after a 5-second unmeasured run of each (the first requests of a worker pay for its imports and pools).

Servers: DATABASE_URL (a database it may empty; default: database `releve_bench_api` on 127.0.0.1:5432,
created afresh) and VALKEY_URL (default redis://127.0.0.1:6379/13, emptied first).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import redis
import requests

from bench import bench_database
from models.api_clients import ApiClient
from models.cache import EncryptedCache
from models.calendar import last_published_day, now_paris
from models.db import session_scope
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import User
from releve import embedded
from sandbox.testing import free_port

RELEVE = str(Path(sys.executable).parent / "releve")
STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static" / "bench-ceiling.json"
PDL = "98000000000365"


def database() -> str:
    return bench_database("releve_bench_api")


def household(env: dict[str, str], settings: Settings) -> tuple[str, date, date]:
    """The account, its meter, a year of daily energy cached, and an API secret."""
    with session_scope(settings.database_url) as session:
        user = User(email="banc-api@example.org", password_hash="-", is_active=True)
        session.add(user)
        session.flush()
        point = UsagePoint(pdl=PDL, user_id=user.id, kind="consumption", status="active")
        client, secret = ApiClient.issue(user.id, "bench")
        session.add_all([point, client])
        session.flush()
        user_id, point_id = user.id, point.id
    last = last_published_day(now_paris())
    first = last - timedelta(days=364)
    store = EncryptedCache.from_settings(redis.Redis.from_url(settings.valkey_url), settings)
    store.put_days(user_id, point_id, "daily_consumption",
                   {first + timedelta(days=i): {"day": (first + timedelta(days=i)).isoformat(), "value": 8000 + i * 7}
                    for i in range(365)})
    return secret, first, last + timedelta(days=1)


WRK_LINE = re.compile(r"Requests/sec:\s+([0-9.]+)")
PERCENTILE = re.compile(r"^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
SCALE = {"us": 0.001, "ms": 1.0, "s": 1000.0}


REQUESTS = re.compile(r"(\d+) requests in")
SERVERS = {"postgres", "redis-server", "valkey-server"}


def server_cpu_seconds(web_group: int) -> float:
    """CPU time used so far by the web's processes (its process group), PostgreSQL and Valkey: what the
    requests cost the servers, whatever else the machine (or its host) is doing meanwhile."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        comm, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if comm in SERVERS or int(fields[2]) == web_group:  # fields[2]: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str],
        web_group: int) -> tuple[float, float, float, float, str]:
    """(requests/s, p50 ms, p99 ms, servers' CPU µs per request, non-2xx summary) of one wrk run."""
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    cpu = server_cpu_seconds(web_group)
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    cpu = server_cpu_seconds(web_group) - cpu
    rate = float(WRK_LINE.search(out).group(1))
    pct = {int(p): float(v) * SCALE[unit] for p, v, unit in PERCENTILE.findall(out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    per_request = cpu / max(1, int(REQUESTS.search(out).group(1))) * 1e6
    return (rate, pct.get(50, float("nan")), pct.get(99, float("nan")), per_request,
            f"{errors.group(1)} non-2xx" if errors else "")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="static then API, this many times per connection count")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    valkey_url = os.environ.get("VALKEY_URL", "redis://127.0.0.1:6379/13")
    redis.Redis.from_url(valkey_url).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENEDIS_", "RTE_", "RELEVE_", "API_"))}
    env.update(RELEVE_ENV="test", DATABASE_URL=database(), VALKEY_URL=valkey_url,
               RELEVE_MASTER_KEY=embedded.new_master_key(), SECRET_KEY="bench-" + "x" * 40,
               API_QUOTA_PER_MINUTE="100000000", API_QUOTA_PER_DAY="1000000000")
    settings = Settings.from_env(env)
    secret, start, end = household(env, settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api_url = f"{base}/api/v1/meters/{PDL}/consumption/daily?start={start}&end={end}"
    auth = {"Authorization": f"Bearer {secret}"}
    web = subprocess.Popen([RELEVE, "web", "--bind", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = requests.get(api_url, headers=auth, timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit("releve web did not start") from None
                time.sleep(0.5)
        assert answer.status_code == 200 and len(answer.json()["values"]) == 365, answer.text[:300]
        STATIC.write_bytes(answer.content)
        static_url = f"{base}/static/{STATIC.name}"
        assert requests.get(static_url, timeout=10).content == answer.content
        for url, headers in ((static_url, {}), (api_url, auth)):  # warm both up (workers' imports, pools, caches)
            wrk(url, max(args.connections), 5, headers, web.pid)
        load = os.getloadavg()
        print(f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} before the runs; "
              f"body {len(answer.content)} bytes; releve web: 2 workers x 4 threads; wrk 2 threads, {args.seconds} s a run")
        print(f"{'connections':>11}  {'what':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11}"
              f"   (median of {args.rounds} rounds)")
        for connections in args.connections:
            # Static and API alternate, round after round: a neighbour's burst on a shared machine lands on
            # both, and each round's ratio is taken before the median.
            runs: dict[str, list[tuple[float, float, float, float, str]]] = {"static": [], "api": []}
            for _ in range(args.rounds):
                runs["static"].append(wrk(static_url, connections, args.seconds, {}, web.pid))
                runs["api"].append(wrk(api_url, connections, args.seconds, auth, web.pid))
            for key, label in (("static", "static JSON (ceiling)"), ("api", "/api/v1 daily, 365 days")):
                rate, p50, p99, cpu = (statistics.median(r[i] for r in runs[key]) for i in range(4))
                errors = " ".join(r[4] for r in runs[key] if r[4])
                print(f"{connections:>11}  {label:<28} {rate:>8.0f} {p50:>8.1f} {p99:>8.1f} {cpu:>11.0f} {errors}")
            ratios = [a[0] / s[0] for s, a in zip(runs["static"], runs["api"])]
            cpu_ratios = [s[3] / a[3] for s, a in zip(runs["static"], runs["api"])]
            print(f"{'':>11}  API / ceiling: {statistics.median(ratios):.0%} in req/s "
                  f"(rounds: {', '.join(f'{r:.0%}' for r in ratios)}); "
                  f"{statistics.median(cpu_ratios):.0%} in servers' CPU per request")
    finally:
        STATIC.unlink(missing_ok=True)
        os.killpg(web.pid, 15)
        web.wait(timeout=60)


if __name__ == "__main__":
    main()
