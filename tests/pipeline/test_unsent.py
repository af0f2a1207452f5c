"""A task the broker refuses after its sender committed is kept in PostgreSQL and sent by the recovery
check (pipeline/celery_app.py `enqueue`, pipeline/tasks/maintenance.py `resend_unsent`); a mail never is."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from sqlalchemy import delete, select

from models.db import commit, session_scope
from models.unsent_tasks import UnsentTask
from pipeline import queues, tasks
from pipeline.celery_app import create_celery, enqueue
from pipeline.tasks.mail import enqueue_mail
from sandbox.testing import free_port


@pytest.fixture
def broker_down(settings):
    """An app whose broker is down (nobody listens on its port)."""
    celery = create_celery(dataclasses.replace(settings, celery_broker_url=f"redis://127.0.0.1:{free_port()}/0"))
    celery.conf.broker_connection_timeout = 1
    yield celery
    celery.close()


def onboardings(valkey) -> list[int]:
    return [json.loads(base64.b64decode(json.loads(raw)["body"]))[1]["point_id"]
            for raw in valkey.lrange(queues.INTERACTIVE, 0, -1)]


def test_a_task_refused_after_the_commit_is_kept_and_the_caller_told(session, broker_down):
    told = []
    enqueue(broker_down, tasks.ONBOARD, {"point_id": 41}, session=session, on_error=told.append)
    commit(session)  # the commit stands; the broker's refusal is not raised
    kept = session.scalars(select(UnsentTask)).all()
    assert [(t.name, t.kwargs, t.queue) for t in kept] == [(tasks.ONBOARD, {"point_id": 41}, None)]
    assert "Connection refused" in kept[0].error or "Error" in kept[0].error
    assert len(told) == 1


def test_a_mail_refused_is_never_stored(session, broker_down):
    told = []
    enqueue_mail(broker_down, "zoe@example.org", "Relevé : essai", "https://example.org/reset/SECRET",
                 session=session, on_error=told.append)
    commit(session)
    assert session.scalars(select(UnsentTask)).all() == [] and len(told) == 1


def test_the_recovery_check_sends_what_was_kept_once(celery_app, valkey, database_url):
    with session_scope(database_url) as s:
        s.add_all([UnsentTask(name=tasks.ONBOARD, kwargs={"point_id": 41}),
                   UnsentTask(name=tasks.ONBOARD, kwargs={"point_id": 42}, queue=queues.REFRESH)])
    try:
        assert celery_app.tasks[tasks.RESEND_UNSENT]() == 2
        assert onboardings(valkey) == [41] and len(valkey.lrange(queues.REFRESH, 0, -1)) == 1
        assert celery_app.tasks[tasks.RESEND_UNSENT]() == 0  # sent once
    finally:
        with session_scope(database_url) as s:
            s.execute(delete(UnsentTask))
