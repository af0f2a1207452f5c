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
