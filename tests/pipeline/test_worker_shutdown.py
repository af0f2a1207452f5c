"""A worker asked to stop (SIGTERM, as Kubernetes and docker stop do) loses nothing.

Its running task gets WORKER_SHUTDOWN_SECONDS to end; one that ends in time is stored and
acknowledged; one that does not is cancelled and its message is back in the queue at once
(not after the broker's one-hour visibility timeout), where the next worker runs it.
Real processes: `releve worker` under the test guard, the sandbox over HTTP, a Valkey
database of the test's own as broker.
"""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta

import pytest
import redis

from factories import made_up_pdl
from models.cache import EncryptedCache
from models.calendar import PARIS
from models.settings import Settings
from pipeline import queues, tasks
from pipeline.celery_app import create_celery, enqueue
from tests_helpers import Processes, empty_public_tables, upstream_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}


@pytest.fixture
def broker(env_for, valkey_databases, database_url, sandbox):
    """A Valkey database for this test alone (its queues are looked at directly), and the env of a worker."""
    url = valkey_databases.lease()
    client = redis.Redis.from_url(url)
    client.flushdb()
    env = env_for(VALKEY_URL=url, CELERY_BROKER_URL=url, **upstream_env(sandbox.url))
    processes = Processes()
    celery = create_celery(Settings.from_env(env))
    yield env, client, processes, celery
    processes.stop_all()
    celery.close()
    client.close()
    empty_public_tables(database_url)
    valkey_databases.release(url)


def start_worker(processes, env, name: str, celery, wait_until, **extra):
    worker = processes.start(["worker", "--concurrency", "1", "--queues", queues.INTERACTIVE, "--hostname",
                              f"{name}@%h"], {**env, **extra})

    def answers():
        assert worker.poll() is None, worker.log.read_text()
        return any(name in node for reply in celery.control.ping(timeout=0.5) for node in reply)

    wait_until(answers, timeout=90, interval=0.5)
    return worker


def one_day_window(accounts):
    (point,) = accounts.points([made_up_pdl("93")], kind="consumption")
    day = datetime.now(PARIS).date() - timedelta(days=10)
    return point, day, dict(point_id=point.id, series="daily_consumption", start=day.isoformat(),
                            end=(day + timedelta(days=1)).isoformat())


def cached(env, point, day) -> bool:
    settings = Settings.from_env(env)
    cache = EncryptedCache.from_settings(redis.Redis.from_url(settings.valkey_url), settings)
    return not cache.read_range(point.user_id, point.id, "daily_consumption", day, day + timedelta(days=1)).missing


def terminate(worker, wait_until, timeout=60) -> None:
    """SIGTERM to the worker's main process only (a container's PID 1 is all Kubernetes signals)."""
    os.kill(worker.target, signal.SIGTERM)
    wait_until(lambda: worker.poll() is not None, timeout=timeout, interval=0.2)


def test_a_task_longer_than_the_grace_goes_back_to_the_queue_at_once(broker, sandbox, accounts, wait_until):
    env, client, processes, celery = broker
    point, day, window = one_day_window(accounts)
    worker = start_worker(processes, env, "leaving", celery, wait_until, WORKER_SHUTDOWN_SECONDS="2")
    fault = sandbox.state.add_fault("slow", api="enedis", calls=1, delay=60, path="/metering_data_dc")
    enqueue(celery, tasks.FETCH_WINDOW, window)
    wait_until(lambda: fault.calls == 0, timeout=60, interval=0.05)  # in flight, held for a minute
    terminate(worker, wait_until)
    # Back in its queue, unacknowledged nowhere: at once, not after the visibility timeout (3600 s).
    wait_until(lambda: client.llen(queues.INTERACTIVE) == 1 and client.hlen("unacked") == 0, timeout=30)
    assert not cached(env, point, day)
    start_worker(processes, env, "arriving", celery, wait_until)
    wait_until(lambda: cached(env, point, day), timeout=90, interval=0.5)
    assert client.llen(queues.INTERACTIVE) == 0


def test_a_task_that_ends_within_the_grace_finishes_before_the_worker_stops(broker, sandbox, accounts, wait_until):
    env, client, processes, celery = broker
    point, day, window = one_day_window(accounts)
    worker = start_worker(processes, env, "finishing", celery, wait_until, WORKER_SHUTDOWN_SECONDS="60")
    fault = sandbox.state.add_fault("slow", api="enedis", calls=1, delay=3, path="/metering_data_dc")
    enqueue(celery, tasks.FETCH_WINDOW, window)
    wait_until(lambda: fault.calls == 0, timeout=60, interval=0.05)
    terminate(worker, wait_until, timeout=90)
    assert cached(env, point, day)  # stored before the worker left …
    assert client.llen(queues.INTERACTIVE) == 0 and client.hlen("unacked") == 0  # … and acknowledged
    assert "Soft Shutdown" in worker.log.read_text()
