"""A master-key rotation end to end: real workers, the sandbox over HTTP, a web app, real Valkey.

Key A, then B current with A previous (what A sealed is still read, B seals every write),
then B alone (what A sealed is a miss, fetched again; nothing fails). The users and points
are committed (workers read them through their own connections) and removed after.
"""

from __future__ import annotations

import base64
import os
import time
from datetime import timedelta

import pytest

from models.cache import EncryptedCache
from models.calendar import last_published_day, now_paris
from models.keys import cache_key, day_entry, token_entry
from models.settings import Settings
from pipeline import tasks
from pipeline.celery_app import enqueue as send
from sandbox import enedis_data
from factories import PASSWORD, made_up_pdl, unique_email
from tests_helpers import stop

pytestmark = pytest.mark.slow

KEY_A, KEY_B = (base64.urlsafe_b64encode(os.urandom(32)).decode() for _ in range(2))
ENEDIS_TOKEN_PATH = "/oauth2/v3/token"


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}  # made-up PRMs, no consent page


@pytest.fixture
def settings_env():
    """The web app's and the test's enqueuing settings: B current, A previous."""
    return {"RELEVE_MASTER_KEY": f"2:{KEY_B}", "RELEVE_MASTER_KEY_PREVIOUS": KEY_A}


@pytest.fixture
def app_commits():
    return True  # the workers must see the rows


@pytest.fixture
def envs(test_env):
    """The three stages of the rotation, as the workers' environments."""
    a = {k: v for k, v in test_env.items() if k != "RELEVE_MASTER_KEY_PREVIOUS"} | {"RELEVE_MASTER_KEY": KEY_A}
    return {"A": a, "B+A": test_env, "B": a | {"RELEVE_MASTER_KEY": f"2:{KEY_B}"}}


def start_worker(spawn, celery_app, env: dict[str, str], name: str, wait_until):
    worker = spawn(["worker", "--concurrency", "1", "--hostname", f"{name}@%h"], env)

    def answers():
        assert worker.poll() is None, worker.log.read_text()
        return any(name in node for reply in celery_app.control.ping(timeout=0.5) for node in reply)

    wait_until(answers, timeout=90, interval=0.5)
    return worker


def enqueue(celery_app, point_id: int, series: str, first, last) -> None:
    send(celery_app, tasks.FETCH_WINDOW, dict(point_id=point_id, series=series, start=first.isoformat(),
                                              end=(last + timedelta(days=1)).isoformat()))


def version_of(valkey, user_id: int, point_id: int | None, entry: str) -> int | None:
    """The master-key version that sealed an entry (its second byte), None when absent."""
    blob = valkey.get(cache_key(user_id, point_id, entry))
    return blob[1] if blob else None


def enedis_token_calls(upstream, since: float) -> int:
    return sum(1 for c in upstream.state.calls_since(since) if c.api == "enedis" and c.path == ENEDIS_TOKEN_PATH)


def daily_kwh(client, pdl: str) -> tuple[bool, list[float | None]]:
    """What the consumption page's JSON twin shows: pending, and the last 30 days in kWh."""
    body = client.get(f"/api/ui/consommation.json?pdl={pdl}").get_json()
    return body["pending"], body["charts"]["daily"]["traces"][0]["y"]


def test_a_master_key_rotation_with_real_workers_and_a_web_app(app, client, auth, accounts, envs, valkey, celery_app,
                                                               spawn, sandbox, wait_until):
    upstream = sandbox
    user = accounts.user(email=unique_email("rotation"), password=PASSWORD)
    assert auth.login(user.email).status_code == 302
    (point,) = accounts.points([made_up_pdl()], user=user, kind="consumption", load_curve_enabled=False)
    pdl, user_id, point_id = point.pdl, user.id, point.id
    last = last_published_day(now_paris())
    days = [last - timedelta(days=29 - i) for i in range(30)]
    truth = [round(enedis_data.daily_energy(pdl, d, "consumption") / 1000, 3) for d in days]
    caches = {name: EncryptedCache.from_settings(valkey, Settings.from_env(env)) for name, env in envs.items()}
    token = token_entry(f"enedis:{Settings.from_env(envs['A']).enedis_client_id}")  # the Enedis access token

    def cached(name: str, series: str) -> bool:
        # Every day there (the newest ones are not final yet: `missing` still lists them, to fetch again).
        return set(caches[name].read_range(user_id, point_id, series, days[0], last + timedelta(days=1)).days) \
            == set(days)

    # Key A: a worker caches 30 days of daily energy, and the application tokens.
    worker = start_worker(spawn, celery_app, envs["A"], "rotation-a", wait_until)
    enqueue(celery_app, point_id, "daily_consumption", days[0], last)
    wait_until(lambda: cached("A", "daily_consumption"), timeout=120, interval=0.5)
    assert {version_of(valkey, user_id, point_id, day_entry("daily_consumption", d)) for d in days} == {1}
    assert version_of(valkey, 0, None, token) == 1
    stop(worker)

    # B current, A previous: the web app and a new worker read what A sealed; B seals what is written.
    since = time.time()
    worker = start_worker(spawn, celery_app, envs["B+A"], "rotation-ba", wait_until)
    assert daily_kwh(client, pdl)[1] == truth
    enqueue(celery_app, point_id, "max_power", days[0], last)
    wait_until(lambda: cached("B+A", "max_power"), timeout=120, interval=0.5)
    assert {version_of(valkey, user_id, point_id, day_entry("max_power", d)) for d in days} == {2}
    assert {version_of(valkey, user_id, point_id, day_entry("daily_consumption", d)) for d in days} == {1}
    assert enedis_token_calls(upstream, since) == 0  # the token A sealed was read, not fetched again
    assert version_of(valkey, 0, None, token) == 1
    assert not cached("A", "max_power")  # a process that only knows A cannot read B's entries
    stop(worker)

    # A dropped: what it sealed is a miss, fetched again under B as the page asks; nothing fails.
    from webapp import create_app

    app_b = create_app({"RELEVE_SETTINGS": Settings.from_env(envs["B"]), "TESTING": True})
    browser = type(auth)(app_b.test_client())
    assert browser.login(email=user.email).status_code == 302
    since = time.time()
    pending, shown = daily_kwh(browser.client, pdl)
    assert pending and shown == [None] * 30  # misses, not errors
    assert browser.client.get(f"/consommation?pdl={pdl}").status_code == 200  # asks for the missing days
    worker = start_worker(spawn, celery_app, envs["B"], "rotation-b", wait_until)
    wait_until(lambda: daily_kwh(browser.client, pdl)[1] == truth, timeout=180, interval=1)
    assert {version_of(valkey, user_id, point_id, day_entry("daily_consumption", d)) for d in days} == {2}
    assert version_of(valkey, 0, None, token) == 2
    assert enedis_token_calls(upstream, since) >= 1  # the token A sealed was a miss: a new one, sealed with B
    log = worker.log.read_text()
    assert "Traceback" not in log and "sealed under key version 1" in log
