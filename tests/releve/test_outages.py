"""`releve web` and `releve flower` as real processes through real outages: a Valkey of the test's own
killed (SIGKILL) and started again on its append-only file, an embedded PostgreSQL of the test's own
stopped (immediate mode, as a crash) or frozen (SIGSTOP), and started again. Never the machine's
servers. Each outage lasts 10 s at most; nothing here measures time (bench/web_outage.py does).
"""

import os
import signal
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psutil
import pytest
import redis
import requests
from kombu.exceptions import OperationalError as KombuOperationalError

from factories import PASSWORD, make_point, make_user
from fixtures.web import csrf_of
from models.db import dispose_engines, session_scope
from models.settings import Settings
from pipeline.celery_app import create_celery
from releve.cli import prepare_database
from releve.embedded import EmbeddedPostgres
from tests_helpers import Processes, at_exit, free_port, shared_tmp_dir

pytestmark = pytest.mark.slow

EMAIL = "outage@example.org"
PDL = "22516914714270"
FLOWER_AUTH = ("admin", "a flower password")


@pytest.fixture(scope="module")
def own_postgres():
    """An embedded PostgreSQL of this module's own, migrated, with a user holding a point."""
    pg = EmbeddedPostgres(root=shared_tmp_dir("releve-own-pg-"))
    url = pg.start()
    # PostgreSQL detaches itself: should this session be killed outright, a watchdog stops it.
    Processes().run(pg.stop_argv(), dict(os.environ), pg.pgdata.parent / "watchdog.log", wrap=at_exit)
    prepare_database(url)
    with session_scope(url) as session:
        make_point(session, make_user(session, EMAIL, password=PASSWORD), pdl=PDL, kind="consumption")
    yield pg, url
    dispose_engines()
    pg.stop()


def stop_postgres(pg: EmbeddedPostgres) -> None:
    subprocess.run(pg.stop_argv(), check=True, stdin=subprocess.DEVNULL, capture_output=True)
    assert not pg.alive()


def postgres_processes(pg: EmbeddedPostgres) -> list[psutil.Process]:
    """Every process of that server (the postmaster and its backends run in the data directory)."""
    here = os.path.realpath(pg.pgdata)
    return [p for p in psutil.process_iter(["cwd"]) if p.info["cwd"] and os.path.realpath(p.info["cwd"]) == here]


@contextmanager
def frozen(processes: list[psutil.Process], at_most: float = 10.0):
    """SIGSTOP `processes` (their sockets stay open: they accept and never answer) until the block ends,
    or `at_most` seconds, whichever comes first."""
    def thaw():
        for proc in processes:
            try:
                proc.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass

    for proc in processes:
        proc.send_signal(signal.SIGSTOP)
    timer = threading.Timer(at_most, thaw)
    timer.start()
    try:
        yield timer
    finally:
        timer.cancel()
        thaw()


def answer(url, session=None, **kwargs):
    try:
        return (session or requests).get(url, timeout=30, **kwargs)
    except requests.ConnectionError:  # still starting
        return None


def test_web_answers_503_through_valkey_and_postgresql_outages_and_comes_back(own_postgres, own_valkey, env_for,
                                                                             spawn, wait_until):
    pg, database_url = own_postgres
    port = free_port()
    # Short timeouts: a frozen PostgreSQL must be noticed well within the test's 10 s outage.
    env = env_for(DATABASE_URL=database_url, VALKEY_URL=own_valkey.url, WEB_RETRY_AFTER_SECONDS="5",
                  WEB_BACKEND_TIMEOUT_SECONDS="1", HEALTH_TIMEOUT_SECONDS="2")
    web = spawn(["web", "--bind", f"127.0.0.1:{port}", "--workers", "1"], env)
    base = f"http://127.0.0.1:{port}"

    def up():
        assert web.poll() is None, web.log.read_text()
        response = answer(f"{base}/livez")
        return response is not None and response.status_code == 200

    wait_until(up, timeout=120, interval=0.5)
    browser = requests.Session()
    token = csrf_of(browser.get(f"{base}/connexion", timeout=30).text)
    signed_in = browser.post(f"{base}/connexion", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
                             allow_redirects=False, timeout=30)
    assert signed_in.status_code == 302
    state = f"{base}/tableau-de-bord/etat.json"
    assert browser.get(state, timeout=30).status_code == 200

    def logged(text):
        return web.log.read_text().count(text)

    def unavailable(path, json):
        response = browser.get(base + path, timeout=30)
        assert response.status_code == 503 and response.headers["Retry-After"] == "5", (path, response.status_code)
        if json:
            assert response.json()["error"] == "service unavailable"
        else:
            assert "Service momentanément indisponible" in response.text
        return response

    # Valkey killed: what needs it answers 503 (never a 500, never a hang), the rest as usual.
    own_valkey.kill()
    unavailable("/tableau-de-bord/etat.json", json=True)
    unavailable("/tableau-de-bord", json=False)
    for path in ("/", "/faq", "/tempo", "/livez"):
        assert browser.get(base + path, timeout=30).status_code == 200, path
    own_valkey.start()
    wait_until(lambda: browser.get(state, timeout=30).status_code == 200, timeout=60)
    wait_until(lambda: logged("Valkey reachable again"), timeout=60)  # the web's probe saw it too

    # PostgreSQL stopped: the signed-in person is served as a visitor where no account is needed.
    stop_postgres(pg)
    unavailable("/tableau-de-bord/etat.json", json=True)
    unavailable("/tableau-de-bord", json=False)
    unavailable("/tempo", json=False)
    home = browser.get(f"{base}/", timeout=30)
    assert home.status_code == 200 and "Se connecter" in home.text
    assert browser.get(f"{base}/faq", timeout=30).status_code == 200
    pg.restart()
    wait_until(lambda: browser.get(state, timeout=30).status_code == 200, timeout=60)  # the session held
    assert browser.get(f"{base}/tempo", timeout=30).status_code == 200
    wait_until(lambda: logged("PostgreSQL reachable again"), timeout=60)

    # PostgreSQL frozen (SIGSTOP, at most 10 s): its sockets accept and never answer. The requests
    # talking to it are cut and answer 503 while it is still frozen; /healthz answers too.
    with frozen(postgres_processes(pg)) as ice, ThreadPoolExecutor(2) as pool:
        page = pool.submit(browser.get, state, timeout=30)
        health = pool.submit(requests.get, f"{base}/healthz", timeout=30)
        page, health = page.result(), health.result()
        assert ice.is_alive(), "answered only once PostgreSQL was thawed"
    assert page.status_code == 503 and page.json()["error"] == "service unavailable"
    assert health.status_code == 503 and "postgres" in health.json()["down"]
    wait_until(lambda: browser.get(state, timeout=30).status_code == 200, timeout=60)

    wait_until(lambda: logged("Valkey reachable again") and logged("PostgreSQL reachable again") == 2, timeout=60)
    assert web.poll() is None
    log = web.log.read_text()
    # One gunicorn worker: one line when each outage began, one when it ended; no incident, no traceback.
    assert logged("Valkey out of reach") == 1 and logged("PostgreSQL out of reach") == 2, log
    assert logged("Valkey reachable again") == 1 and logged("PostgreSQL reachable again") == 2, log
    assert "Traceback" not in log and "incident" not in log, log
    assert '"GET /tableau-de-bord/etat.json" 503 ' in log and '" 500 ' not in log


def test_flower_outlives_a_broker_outage_and_captures_events_again(own_valkey, env_for, spawn, wait_until):
    port = free_port()
    env = env_for(VALKEY_URL=own_valkey.url, FLOWER_BASIC_AUTH=":".join(FLOWER_AUTH))
    flower = spawn(["flower", "--port", str(port), "--address", "127.0.0.1"], env)
    base = f"http://127.0.0.1:{port}"
    celery = create_celery(Settings.from_env(env))

    def seen(task_id):
        """Send a task event through the broker; whether Flower's task list shows it."""
        assert flower.poll() is None, flower.log.read_text()
        try:
            with celery.connection_for_write() as conn:
                celery.events.Dispatcher(conn, hostname="outage@test").send(
                    "task-received", uuid=task_id, name="releve.heartbeat", args="()", kwargs="{}")
        except (KombuOperationalError, redis.RedisError):  # the broker is not back yet
            return False
        response = answer(f"{base}/api/tasks", auth=FLOWER_AUTH)
        return response is not None and response.status_code == 200 and task_id in response.json()

    try:
        wait_until(lambda: seen(f"before-{uuid.uuid4()}"), timeout=120, interval=0.5)
        own_valkey.kill()
        wait_until(lambda: "broker out of reach" in flower.log.read_text(), timeout=60)
        own_valkey.start()
        wait_until(lambda: seen(f"after-{uuid.uuid4()}"), timeout=120, interval=0.5)
    finally:
        celery.close()
    log = flower.log.read_text()
    assert flower.poll() is None
    assert log.count("broker out of reach") == 1 and log.count("broker reachable again") == 1, log
    assert "Failed to capture events" not in log and "Traceback" not in log, log
