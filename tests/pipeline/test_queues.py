"""Routing: every task goes to the queue it went to in the previous release, chosen in one place."""

import pytest
from celery.exceptions import QueueNotFound

from pipeline import queues, tasks
from pipeline.schedules import schedule

# The contract with messages already queued and with deployments (Procfile, compose): never edit.
PREVIOUS_RELEASE = {
    "releve.enedis.fetch_window": "interactive",
    "releve.enedis.onboard": "interactive",
    "releve.enedis.refresh_point": "refresh",
    "releve.enedis.refresh_all": "refresh",
    "releve.rte.tempo_tomorrow": "rte",
    "releve.rte.tempo_season": "rte",
    "releve.rte.ecowatt": "rte",
    "releve.rte.national_consumption": "rte",
    "releve.tokens.renew": "default",
    "releve.heartbeat": "default",
    "releve.mail.send": "mail",
    "releve.transfers.holder_consent_gone": "interactive",
}
# Tasks this release adds (next release, they join PREVIOUS_RELEASE): the recovery checks (#12) on a queue
# every worker pool consumes.
NEW_IN_THIS_RELEASE = {
    "releve.rte.tempo_history": "rte",
    "releve.enedis.resume_backfills": "default",
    "releve.maintenance.resend_unsent": "default",
    "releve.costs.simulate": "interactive",
    "releve.enedis.fetch_customer": "interactive",
}


def queue_of(celery_app, name: str, kwargs: dict | None = None, **options) -> str:
    return celery_app.amqp.router.route(options, name, (), kwargs or {})["queue"].name


def test_every_task_keeps_its_name_and_its_queue(celery_app):
    registered = {name for name in celery_app.tasks if not name.startswith("celery.")}
    assert registered == set(PREVIOUS_RELEASE) | set(NEW_IN_THIS_RELEASE)
    assert set(queues.ALL) == {"interactive", "refresh", "backfill", "rte", "mail", "default"}
    for name, queue in {**PREVIOUS_RELEASE, **NEW_IN_THIS_RELEASE}.items():
        assert queue_of(celery_app, name) == queue, name
    assert queue_of(celery_app, tasks.FETCH_WINDOW, {"backfill": True}) == "backfill"
    assert queue_of(celery_app, tasks.FETCH_WINDOW, {"backfill": False}) == "interactive"


def test_a_sender_may_still_choose_a_declared_queue(celery_app):
    assert queue_of(celery_app, tasks.ONBOARD, queue=queues.REFRESH) == "refresh"  # the refresh pass onboards


def test_an_undeclared_queue_is_refused_not_created(celery_app):
    with pytest.raises(QueueNotFound):
        queue_of(celery_app, tasks.ONBOARD, queue="interactve")


def test_beat_entries_go_where_they_went(celery_app):
    for name, entry in schedule().items():
        assert "queue" not in entry["options"], name  # the routes decide
        queue = {**PREVIOUS_RELEASE, **NEW_IN_THIS_RELEASE}[entry["task"]]
        assert queue_of(celery_app, entry["task"], **entry["options"]) == queue, name
