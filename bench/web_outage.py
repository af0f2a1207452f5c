"""`python -m bench.web_outage`: how fast the web answers while Valkey or PostgreSQL is down.

A real `releve web` (gunicorn, 2 workers x 4 threads, default timeouts) runs against a Valkey
and an embedded PostgreSQL of this bench's own (temporary directories, free ports; never the
machine's servers), and Flower against the same Valkey. Signed-in "browsers" poll the dashboard's
JSON (it reads PostgreSQL and Valkey) every second, a prober asks `/healthz` every half second,
and a thread stands in for the worker and beat heartbeats. Then, one after the other, each for
`--seconds`:

  valkey-killed   Valkey SIGKILLed, then started again on its append-only file
  valkey-frozen   Valkey SIGSTOPped: it accepts connections and never answers, then SIGCONT
  postgres-down   PostgreSQL stopped (immediate mode, as a crash), then started again
  postgres-frozen every PostgreSQL process SIGSTOPped, then SIGCONT

For each phase: /healthz and dashboard answers (status counts, median, 95th percentile and
worst answer time), and how long after the server was back the dashboard and Flower (a task
event sent through the broker and seen in its task list) worked again.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil
import redis
import requests
from sqlalchemy import select

from models.db import session_scope
from models.keys import BEAT_HEARTBEAT_KEY
from models.settings import Settings
from models.usage_points import UsagePoint
from models.users import Role, User
from pipeline.tasks.maintenance import record_worker_heartbeat
from releve import embedded
from releve.cli import prepare_database
from sandbox.testing import free_port

RELEVE = str(Path(sys.executable).parent / "releve")
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
PASSWORD = "correct horse battery"
FLOWER_AUTH = ("admin", "bench")


class Samples:
    def __init__(self):
        self.items: list[tuple[float, float, int | str]] = []  # (when, seconds, status)
        self.lock = threading.Lock()

    def add(self, when: float, seconds: float, status) -> None:
        with self.lock:
            self.items.append((when, seconds, status))

    def between(self, start: float, end: float) -> list[tuple[float, float, int | str]]:
        with self.lock:
            return [s for s in self.items if start <= s[0] < end]


def timed_get(session: requests.Session, url: str, samples: Samples, **kwargs) -> None:
    started = time.time()
    t0 = time.perf_counter()
    try:
        status = session.get(url, timeout=60, **kwargs).status_code
    except requests.RequestException as exc:
        status = type(exc).__name__
    samples.add(started, time.perf_counter() - t0, status)


def describe(samples: list) -> str:
    if not samples:
        return "no answer"
    times = sorted(s[1] for s in samples)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(Counter(s[2] for s in samples).items(), key=str))
    return (f"{len(samples)} answers ({statuses}); median {statistics.median(times) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms")


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    here = os.path.realpath(pgdata)
    found = []
    for proc in psutil.process_iter(["cwd"]):
        if proc.info["cwd"] and os.path.realpath(proc.info["cwd"]) == here:
            found.append(proc)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web_outage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="length of each outage")
    parser.add_argument("--browsers", type=int, default=8, help="signed-in browsers polling the dashboard")
    parser.add_argument("--only", nargs="*", help="phases to run (default: all)")
    parser.add_argument("--releve", default=RELEVE,
                        help="the `releve` command that runs web and Flower (another checkout's, to compare)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="releve-bench-outage-"))
    root.chmod(0o755)  # the embedded PostgreSQL runs as another user when started as root
    pg = embedded.EmbeddedPostgres(root=root)
    valkey = embedded.EmbeddedValkey(root=root, port=free_port())
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    state: dict = {}  # the PostgreSQL processes a phase froze
    try:
        database_url = pg.start()
        valkey_url = valkey.start()
        prepare_database(database_url)
        emails = [f"bench{i}@example.org" for i in range(args.browsers)]
        with session_scope(database_url) as session:
            role = session.scalar(select(Role).where(Role.name == "user"))
            for i, email in enumerate(emails):
                user = User(email=email)
                user.set_password(PASSWORD)
                user.roles.append(role)
                session.add(user)
                session.flush()
                session.add(UsagePoint(pdl=f"97{i:012d}", user_id=user.id, kind="consumption"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENEDIS_", "RTE_", "RELEVE_", "HEALTH_",
                                                                        "WEB_", "DATABASE_", "VALKEY_", "CELERY_"))}
        env.update(RELEVE_ENV="test", DATABASE_URL=database_url, VALKEY_URL=valkey_url,
                   RELEVE_MASTER_KEY=embedded.new_master_key(), SECRET_KEY="bench-" + "x" * 40,
                   FLOWER_BASIC_AUTH=":".join(FLOWER_AUTH))
        settings = Settings.from_env(env)
        port, flower_port = free_port(), free_port()
        for argv in (["web", "--bind", f"127.0.0.1:{port}"],
                     ["flower", "--port", str(flower_port), "--address", "127.0.0.1"]):
            log = open(root / f"{argv[0]}.log", "wb")
            procs.append(subprocess.Popen([args.releve, *argv], env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        base, flower = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{flower_port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/livez", timeout=5).ok and requests.get(
                        f"{flower}/healthcheck", auth=FLOWER_AUTH, timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"web or Flower did not start; logs in {root}")
            time.sleep(0.5)

        browsers = []
        for email in emails:
            browser = requests.Session()
            token = CSRF.search(browser.get(f"{base}/connexion", timeout=30).text).group(1)
            browser.post(f"{base}/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token},
                         timeout=30)
            browsers.append(browser)

        health, pages = Samples(), Samples()

        def heartbeats():  # stands in for the worker and beat, which this bench does not run
            client = redis.Redis.from_url(valkey_url, socket_timeout=1, socket_connect_timeout=1)
            while not stop.wait(5):
                try:
                    record_worker_heartbeat(client, "bench@outage")
                    client.set(BEAT_HEARTBEAT_KEY, f"{time.time():.3f}")
                except redis.RedisError:
                    pass

        def prober():
            session = requests.Session()
            while not stop.wait(0.5):
                timed_get(session, f"{base}/healthz", health)

        def browse(session):
            while not stop.wait(1):
                timed_get(session, f"{base}/tableau-de-bord/etat.json", pages)

        threads = [threading.Thread(target=heartbeats, daemon=True), threading.Thread(target=prober, daemon=True)]
        threads += [threading.Thread(target=browse, args=(b,), daemon=True) for b in browsers]
        for thread in threads:
            thread.start()

        from pipeline.celery_app import create_celery

        celery = create_celery(settings)

        def flower_sees_new_event() -> bool:
            task_id = f"bench-{uuid.uuid4()}"
            try:
                with celery.connection_for_write() as conn:
                    celery.events.Dispatcher(conn, hostname="bench@outage").send(
                        "task-received", uuid=task_id, name="releve.heartbeat", args="()", kwargs="{}")
                time.sleep(0.2)
                answer = requests.get(f"{flower}/api/tasks", auth=FLOWER_AUTH, timeout=10)
                return answer.ok and task_id in answer.json()
            except Exception:  # noqa: BLE001 - not back yet
                return False

        def until(predicate, limit=300.0) -> float | None:
            start = time.monotonic()
            while time.monotonic() - start < limit:
                if predicate():
                    return time.monotonic() - start
                time.sleep(0.2)
            return None

        def dashboard_ok() -> bool:
            try:
                return browsers[0].get(f"{base}/tableau-de-bord/etat.json", timeout=30).status_code == 200
            except requests.RequestException:
                return False

        def frozen(processes, sig):
            for proc in processes:
                try:
                    proc.send_signal(sig)
                except psutil.NoSuchProcess:
                    pass

        phases = {
            "valkey-killed": (lambda: valkey._proc.kill(), lambda: valkey.restart()),
            "valkey-frozen": (lambda: valkey._proc.send_signal(signal.SIGSTOP),
                              lambda: valkey._proc.send_signal(signal.SIGCONT)),
            "postgres-down": (lambda: subprocess.run(pg.stop_argv(), check=True, capture_output=True),
                              lambda: pg.restart()),
            "postgres-frozen": (lambda: frozen(state.setdefault("pg", postgres_processes(pg.pgdata)), signal.SIGSTOP),
                                lambda: frozen(state.pop("pg"), signal.SIGCONT)),
        }
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.releve}; web: 2 gunicorn workers x 4 threads, "
              f"HEALTH_TIMEOUT_SECONDS={settings.health_timeout_seconds:g}, "
              f"WEB_BACKEND_TIMEOUT_SECONDS={settings.web_backend_timeout_seconds:g}; {args.browsers} browsers "
              f"polling the dashboard JSON every second, /healthz every 0.5 s; outages of {args.seconds:g} s")
        time.sleep(5)
        start = time.time()
        time.sleep(10)
        print(f"\nbaseline (10 s)\n  /healthz:  {describe(health.between(start, time.time()))}\n"
              f"  dashboard: {describe(pages.between(start, time.time()))}")
        for name, (down, up) in phases.items():
            if args.only and name not in args.only:
                continue
            start = time.time()
            down()
            time.sleep(args.seconds)
            end = time.time()
            up()
            back = until(dashboard_ok)
            flower_back = until(flower_sees_new_event, 120) if name == "valkey-killed" else None
            print(f"\n{name} ({args.seconds:g} s)\n  /healthz:  {describe(health.between(start, end))}\n"
                  f"  dashboard: {describe(pages.between(start, end))}\n"
                  f"  after the server was back: dashboard 200 after "
                  f"{'never' if back is None else f'{back:.1f} s'}"
                  + (f"; Flower saw a new event after {'never' if flower_back is None else f'{flower_back:.1f} s'}"
                     if name == "valkey-killed" else ""))
            time.sleep(5)
        stop.set()
        celery.close()
        for proc in procs:
            if proc.poll() is not None:
                print(f"\n{proc.args[1]} EXITED with {proc.returncode}; log in {root}")
        web_log = (root / "web.log").read_text()
        flower_log = (root / "flower.log").read_text()
        print(f"\nweb log: {web_log.count('out of reach')} 'out of reach' and {web_log.count('reachable again')} "
              f"'reachable again' lines (2 workers), {web_log.count('Traceback')} tracebacks; "
              f"Flower log: {flower_log.count('broker out of reach')} + {flower_log.count('reachable again')} lines, "
              f"{flower_log.count('Traceback')} tracebacks. Logs in {root}")
    finally:
        stop.set()
        for proc in state.get("pg", []):
            try:
                proc.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass
        if valkey._proc is not None:
            valkey._proc.send_signal(signal.SIGCONT)
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        valkey.stop()
        pg.stop()


if __name__ == "__main__":
    main()
