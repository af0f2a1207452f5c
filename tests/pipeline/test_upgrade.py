"""Messages queued by the previous release are understood after a deploy.

A producer that knows nothing of this release (a bare Celery app: no routes, no declared
queues) sends every task by its old name, with the old keyword arguments (`attempt`
included, as the previous release's tasks declared it and rescheduled with it) to the old
queue names, before any worker runs. Then a real `releve worker` of this release starts
and runs them all.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from celery import Celery

from models.cache import EncryptedCache
from models.settings import Settings
from models.keys import USED_KEY, WORKER_HEARTBEAT_KEY
from factories import made_up_pdl
from tests_helpers import Processes, empty_public_tables, upstream_env

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}


@pytest.fixture
def previous_release(env_for, valkey_databases, database_url, sandbox, accounts, outbox):
    """The servers of a deployment, a point, and the producer of the previous release; no worker yet."""
    url = valkey_databases.lease()
    env = env_for(VALKEY_URL=url, CELERY_BROKER_URL=url, MAIL_OUTBOX_DIR=str(outbox), **upstream_env(sandbox.url))
    (point,) = accounts.points([made_up_pdl("94")])
    # History from 40 days ago only: onboarding's backfill stays small (older windows are never asked).
    sandbox.app.config["CONSENT_STARTS"] = {point.pdl: (date.today() - timedelta(days=40)).isoformat()}
    producer = Celery("previous-release", broker=url, backend=url, set_as_current=False)
    producer.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
    processes = Processes()
    try:
        yield env, producer, point, processes, outbox
    finally:
        processes.stop_all()
        producer.close()
        empty_public_tables(database_url)
        sandbox.app.config["CONSENT_STARTS"] = {}
        valkey_databases.release(url)


def test_a_worker_of_this_release_runs_what_the_previous_one_queued(previous_release, wait_until):
    env, producer, point, processes, outbox = previous_release
    today = datetime.now(PARIS).date()
    start, end = today - timedelta(days=30), today - timedelta(days=23)
    now = datetime.now(PARIS).replace(hour=11, minute=0).isoformat()
    # (task name, kwargs, queue) exactly as the previous release sent them, reschedules included.
    messages = [
        ("releve.enedis.onboard", {"point_id": point.id, "attempt": 1}, "interactive"),
        ("releve.enedis.fetch_window", {"point_id": point.id, "series": "daily_consumption", "start": start.isoformat(),
                                        "end": end.isoformat(), "backfill": True, "attempt": 2}, "backfill"),
        ("releve.enedis.refresh_point", {"point_id": point.id, "attempt": 0}, "refresh"),
        ("releve.enedis.refresh_all", {"now": now}, "refresh"),
        ("releve.rte.tempo_tomorrow", {"now": now, "attempt": 3}, "rte"),
        ("releve.rte.tempo_season", {"now": None, "attempt": 1}, "rte"),
        ("releve.rte.ecowatt", {"attempt": 0}, "rte"),
        ("releve.rte.national_consumption", {"attempt": 2}, "rte"),
        ("releve.tokens.renew", {"attempt": 1}, "default"),
        ("releve.transfers.holder_consent_gone", {"pdl": point.pdl}, "interactive"),
    ]
    # A message carrying `attempt` was a reschedule: Celery's retry count came with it.
    results = {name: producer.send_task(name, kwargs=kwargs, queue=queue, retries=1 if "attempt" in kwargs else 0)
               for name, kwargs, queue in messages}
    # Without a result (ignore_result): the heartbeat's key and the mail's file show they ran.
    producer.send_task("releve.heartbeat", kwargs={}, queue="default")
    producer.send_task("releve.mail.send", queue="mail", argsrepr="()", kwargsrepr="{'subject': 'essai'}",
                       kwargs={"to": "zoe@example.org", "subject": "Relevé : essai", "body": "Bonjour.\n", "attempt": 4})
    valkey = redis.Redis.from_url(env["VALKEY_URL"])
    valkey.zadd(USED_KEY, {str(point.id): int(valkey.time()[0])})  # its owner looked: the refresh pass takes it
    waiting = {queue: valkey.llen(queue) for queue in ("interactive", "backfill", "refresh", "rte", "default", "mail")}
    assert waiting == {"interactive": 2, "backfill": 1, "refresh": 2, "rte": 4, "default": 2, "mail": 1}

    worker = processes.start(["worker", "--concurrency", "2", "--hostname", "upgrade@%h"], env)
    answers = {}
    for name, result in results.items():
        try:
            answers[name] = result.get(timeout=120)
        except Exception as exc:  # noqa: BLE001 - show the worker's log with the failure
            time.sleep(1)
            lines = [line for line in worker.log.read_text().splitlines() if "fetch_window" not in line]
            pytest.fail(f"{name}: {exc!r}\n" + "\n".join(lines[-60:]))
    assert answers["releve.enedis.onboard"]["status"] == "ok"
    assert answers["releve.enedis.fetch_window"]["status"] == "ok"
    assert isinstance(answers["releve.enedis.refresh_point"], dict)
    assert answers["releve.enedis.refresh_all"] >= 1
    assert answers["releve.rte.tempo_tomorrow"] == "known" or answers["releve.rte.tempo_tomorrow"].startswith("stored")
    assert answers["releve.rte.tempo_season"] > 0  # a reschedule: not deduplicated away
    assert answers["releve.rte.ecowatt"] in (0, 4)  # 0: the worker's own warm-up asked first
    assert answers["releve.rte.national_consumption"] > 0
    assert answers["releve.tokens.renew"] == "ok"
    assert answers["releve.transfers.holder_consent_gone"] == {"status": "nothing-to-do"}
    wait_until(lambda: list(outbox.glob("*.eml")) and valkey.get(WORKER_HEARTBEAT_KEY), timeout=60)

    settings = Settings.from_env(env)
    cache = EncryptedCache.from_settings(valkey, settings)
    assert not cache.read_range(point.user_id, point.id, "daily_consumption", start, end).missing
    assert worker.poll() is None
