"""The retry policy of every task, written once in ReleveTask, on test-only tasks run eagerly.

An eager run applies each reschedule at once (no countdown): what the policy decided shows
in how many times the body ran, the final state, and the log line giving each countdown.
"""

import logging
import re

import pytest
from celery import Celery

from pipeline.clients.base import PermanentError, Throttled, Unavailable
from pipeline.tasks.base import ATTEMPT, MAX_ATTEMPTS, ReleveTask
from pipeline.tasks.mail import MailTask


@pytest.fixture
def celery():
    app = Celery("policy-test", set_as_current=False)
    yield app
    app.close()


def flaky(celery, *errors: Exception, base=ReleveTask):
    """A task that raises `errors` one per run, then answers "ok"; `runs` lists the point ids it received."""
    runs = []

    @celery.task(bind=True, base=base, name=f"test.flaky.{len(celery.tasks)}", shared=False)
    def task(self, point_id: int):
        runs.append(point_id)
        if len(runs) <= len(errors):
            raise errors[len(runs) - 1]
        return "ok"

    return task, runs


def countdowns(caplog) -> list[int]:
    return [int(m) for m in re.findall(r"rescheduled in (\d+) s", caplog.text)]


def test_throttling_waits_as_announced_and_never_uses_the_budget(celery, caplog):
    caplog.set_level(logging.INFO, logger="pipeline.tasks.base")
    throttles = [Throttled("429", 120, upstream="enedis")] * (MAX_ATTEMPTS + 2)
    task, runs = flaky(celery, *throttles)
    # Even from a message of the previous release that had already used up most of its budget.
    result = task.apply(kwargs={"point_id": 7, ATTEMPT: MAX_ATTEMPTS - 1})
    assert (result.state, result.result) == ("SUCCESS", "ok")
    assert runs == [7] * (MAX_ATTEMPTS + 3)  # the body never receives the policy's keyword
    assert countdowns(caplog) and all(120 <= c <= 123 for c in countdowns(caplog))


def test_failures_back_off_and_give_up_after_the_budget(celery, caplog):
    caplog.set_level(logging.INFO, logger="pipeline.tasks.base")
    task, runs = flaky(celery, *[Unavailable("502", upstream="enedis")] * 10)
    result = task.apply(kwargs={"point_id": 7})
    assert result.state == "FAILURE" and isinstance(result.result, Unavailable)
    assert len(runs) == MAX_ATTEMPTS
    waits = countdowns(caplog)
    assert len(waits) == MAX_ATTEMPTS - 1
    assert [5 <= w <= 10 * 2**i for i, w in enumerate(waits)] == [True] * len(waits)
    assert "gave up after 6 attempts" in caplog.text


def test_the_attempt_count_of_a_message_of_the_previous_release_is_honoured(celery):
    task, runs = flaky(celery, *[Unavailable("502", upstream="enedis")] * 10)
    assert task.apply(kwargs={"point_id": 7, ATTEMPT: MAX_ATTEMPTS - 2}).state == "FAILURE"
    assert len(runs) == 2


def test_a_throttle_between_failures_keeps_the_count(celery):
    errors = [Unavailable("502", upstream="enedis"), Throttled("429", 3, upstream="enedis")] * 4
    task, runs = flaky(celery, *errors)
    assert task.apply(kwargs={"point_id": 7, ATTEMPT: MAX_ATTEMPTS - 4}).state == "FAILURE"
    assert len(runs) == 7  # failures at attempts 2, 3, 4 and 5, the throttles in between for free


def test_other_errors_are_not_retried(celery):
    for error in (PermanentError("not collected", code="ERR0075"), KeyError("bug")):
        task, runs = flaky(celery, error)
        assert task.apply(kwargs={"point_id": 7}).state == "FAILURE" and len(runs) == 1


def test_called_directly_the_error_itself_is_raised(celery):
    task, _ = flaky(celery, Unavailable("down", upstream="smtp"))
    with pytest.raises(Unavailable):
        task(point_id=7, attempt=2)


def test_a_rescheduled_mail_shows_only_its_subject(celery):
    task, _ = flaky(celery, base=MailTask)
    options = task.message_options({"to": "zoe@example.org", "subject": "Relevé : essai", "body": "lien"})
    assert options == {"argsrepr": "()", "kwargsrepr": repr({"subject": "Relevé : essai"})}


# -- outages: Valkey, the broker or PostgreSQL unreachable --------------------------------------------


def outage_errors():
    import kombu.exceptions
    import psycopg
    import redis
    import sqlalchemy.exc

    from pipeline.ratelimit import LimiterUnavailable

    return [
        redis.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused."),
        redis.TimeoutError("Timeout reading from socket"),
        redis.BusyLoadingError("Valkey is loading the dataset in memory"),
        LimiterUnavailable("ConnectionError: Connection refused"),
        kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6390"),
        sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
        psycopg.OperationalError("the database system is starting up"),
    ]


@pytest.fixture
def shortened(celery):
    """The app's settings as a test sets them: short outage backoffs."""
    from models.settings import Settings

    celery.conf.releve_settings = Settings(retry_backoff_seconds=0.5, outage_retry_max_seconds=2.0)
    return celery


def test_an_outage_is_waited_out_however_long_and_never_uses_the_budget(shortened, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline.tasks.base")
    errors = outage_errors() * 3  # far more than MAX_ATTEMPTS
    task, runs = flaky(shortened, *errors)
    result = task.apply(kwargs={"point_id": 7, ATTEMPT: MAX_ATTEMPTS - 1})
    assert (result.state, result.result) == ("SUCCESS", "ok")
    assert len(runs) == len(errors) + 1
    waits = [float(w) for w in re.findall(r"rescheduled in ([\d.]+) s", caplog.text)]
    assert len(waits) == len(errors) and all(0.25 <= w <= 2.0 for w in waits)  # RETRY_BACKOFF_SECONDS … the cap


def test_an_outage_is_logged_once_per_change_of_state_not_per_task(shortened, caplog):
    import redis

    from pipeline.tasks import base

    base.outages.down_since.clear()
    caplog.set_level(logging.INFO, logger="pipeline.tasks.base")
    task, _ = flaky(shortened, *[redis.ConnectionError("Connection refused")] * 5)
    task.apply(kwargs={"point_id": 7})
    other, _ = flaky(shortened, *[redis.ConnectionError("Connection refused")] * 5)
    other.apply(kwargs={"point_id": 8})
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.getMessage().split(" (")[0] for r in lines] == ["Valkey unreachable"]
    assert "Traceback" not in caplog.text
    base.outages.down_since.clear()


def test_an_upstream_failure_still_counts_after_an_outage(shortened):
    import redis

    errors = [redis.ConnectionError("down")] * 3 + [Unavailable("502", upstream="enedis")] * 10
    task, runs = flaky(shortened, *errors)
    assert task.apply(kwargs={"point_id": 7}).state == "FAILURE"
    assert len(runs) == 3 + MAX_ATTEMPTS


def test_a_task_the_broker_cannot_take_back_is_given_back_not_dropped(shortened):
    """Celery drops a message whose retry it cannot send (Reject, requeue=False): the policy gives it back."""
    import redis
    from celery.exceptions import Reject

    from sandbox.testing import free_port

    shortened.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    shortened.conf.broker_connection_timeout = 1
    task, runs = flaky(shortened, redis.ConnectionError("Valkey is down"))
    task.push_request(id="a-message", args=(), kwargs={"point_id": 7}, retries=0, called_directly=False,
                      is_eager=False, delivery_info={"routing_key": "default"})
    try:
        with pytest.raises(Reject) as rejected:
            task(point_id=7)
    finally:
        task.pop_request()
    assert rejected.value.requeue is True and runs == [7]


def test_a_retry_waits_for_a_broker_that_comes_back(shortened, tmp_path):
    """A short broker outage costs no redelivery: the retry is sent once the broker is back."""
    import threading

    import redis
    from celery.exceptions import Retry

    from models.settings import Settings
    from tests_helpers import OwnValkey, guarded

    shortened.conf.releve_settings = Settings(retry_backoff_seconds=0.5, outage_retry_max_seconds=60)
    broker = OwnValkey(tmp_path, launcher=guarded([]))
    shortened.conf.broker_url = broker.url  # not started yet: nobody listens
    shortened.conf.broker_connection_timeout = 1
    task, runs = flaky(shortened, redis.ConnectionError("Valkey is down"))
    done = threading.Event()

    def comes_back() -> None:  # a thread that lives on: the guard stops its command when its thread ends
        if not done.wait(2.0):
            broker.start()
            done.wait()

    thread = threading.Thread(target=comes_back)
    thread.start()
    task.push_request(id="a-message", args=(), kwargs={"point_id": 7}, retries=0, called_directly=False,
                      is_eager=False, delivery_info={"routing_key": "default"})
    try:
        with pytest.raises(Retry):
            task(point_id=7)
        with redis.Redis.from_url(broker.url) as client:
            queued = [key for key in client.keys("*") if client.type(key) == b"list"]
            assert sum(client.llen(key) for key in queued) == 1  # the message that runs it again
    finally:
        task.pop_request()
        broker.stop()
        done.set()
        thread.join()
    assert runs == [7]
