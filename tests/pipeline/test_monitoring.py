"""The admin dashboard's figures, read from what the pipeline records; a store that is down spoils only its part."""

from __future__ import annotations

import json

from models.calendar import today_paris
from models.keys import TASK_FAILURES_KEY, count_key, progress_key
from models.settings import Settings
from pipeline import monitoring, queues, tasks
from pipeline.tasks.base import ReleveTask
from tests_helpers import free_port

from factories import make_point, make_user


def test_a_failed_task_is_counted_by_name_and_error_type_only(celery_app, valkey):
    @celery_app.task(bind=True, base=ReleveTask, name="test.failing", shared=False)
    def failing(self, point_id: int):
        raise ValueError(f"point {point_id} of alice@example.org")

    assert failing.apply(kwargs={"point_id": 7}).state == "FAILURE"
    assert int(valkey.get(count_key("tasks", "failed", today_paris()))) == 1
    [entry] = [json.loads(raw) for raw in valkey.lrange(TASK_FAILURES_KEY, 0, -1)]
    assert (entry["task"], entry["error"]) == ("test.failing", "ValueError")
    assert "alice" not in valkey.lrange(TASK_FAILURES_KEY, 0, -1)[0].decode()


def test_queue_depths_and_backfill_progress(session, settings, valkey, celery_app):
    user = make_user(session)
    running, done, unplanned = (make_point(session, user, kind="consumption") for _ in range(3))
    valkey.hset(progress_key(running.id), mapping={"total": 8, "done": 3})
    valkey.hset(progress_key(done.id), mapping={"total": 8, "done": 8})
    for _ in range(2):
        celery_app.send_task(tasks.REFRESH_POINT, kwargs={"point_id": running.id})
    depths = monitoring.queue_depths(settings)
    assert depths == {"queues": {**{name: 0 for name in queues.ALL}, queues.REFRESH: 2}, "total": 2}
    assert monitoring.progress_of(settings, [running.id, done.id, unplanned.id]) == {running.id: (3, 8),
                                                                                     done.id: (8, 8)}
    backfills = monitoring.backfills(session, settings)
    assert backfills["in_progress"] == 1 and backfills["shown"][0]["percent"] == 37


def test_a_store_that_is_down_spoils_only_its_parts(session, env_for):
    make_point(session, make_user(session), kind="consumption")  # a backfill to ask Valkey about
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings.from_env(env_for(VALKEY_URL=nowhere, CELERY_BROKER_URL=nowhere, HEALTH_TIMEOUT_SECONDS="1"))
    parts = monitoring.collect(session, settings)
    assert {name for name, part in parts.items() if part.error} == {"calls", "queues", "processes", "backfills"}
    assert parts["accounts"].values["total"] >= 0 and parts["rte"].error is None
