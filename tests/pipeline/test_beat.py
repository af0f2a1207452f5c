"""Beat outlives Valkey (pipeline/schedules/scheduler.py): an outage ends a tick, never the process; a lost
lock is taken again; a schedule Valkey forgot is written again. Real Valkey (a leased database, or a port
where nobody listens); the whole beat process through outages is in tests/pipeline/test_outages.py."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from models.keys import BEAT_HEARTBEAT_KEY, REDBEAT_LOCK_KEY
from pipeline.celery_app import create_celery
from pipeline.schedules.scheduler import ReleveScheduler
from sandbox.testing import free_port


@pytest.fixture
def scheduler(celery_app, valkey):
    made = []

    def make() -> ReleveScheduler:
        made.append(ReleveScheduler(app=celery_app, max_interval=1))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_a_beat_without_valkey_waits_and_says_so_once(settings, caplog):
    caplog.set_level(logging.INFO, logger="pipeline.schedules.scheduler")
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    celery = create_celery(dataclasses.replace(settings, valkey_url=nowhere, celery_broker_url=nowhere,
                                               retry_backoff_seconds=0.5))
    try:
        beat = ReleveScheduler(app=celery, max_interval=1)  # the schedule cannot be written at start either
        waits = [beat.tick() for _ in range(3)]
    finally:
        celery.close()
    assert waits == [0.5, 0.5, 0.5]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("Valkey unreachable")
    assert "Traceback" not in caplog.text


def test_one_beat_schedules_the_other_stands_by_and_takes_over(scheduler, valkey):
    first, second = scheduler(), scheduler()
    first.tick()
    assert first.lock is not None and valkey.exists(BEAT_HEARTBEAT_KEY)
    second.tick()
    assert second.lock is None  # standing by
    valkey.delete(REDBEAT_LOCK_KEY)  # the first one's lock expired (a long outage)
    second.tick()
    assert second.lock is not None
    first.tick()
    assert first.lock is None  # it found the lock taken: it stands by in turn


def test_a_beat_whose_valkey_came_back_empty_takes_its_lock_and_schedule_again(scheduler, valkey, celery_app):
    beat = scheduler()
    beat.tick()
    statics = celery_app.redbeat_conf.statics_key
    assert valkey.exists(statics) and valkey.exists(REDBEAT_LOCK_KEY)
    valkey.flushdb()  # Valkey restarted without its data
    beat.tick()
    assert beat.lock is not None and valkey.exists(REDBEAT_LOCK_KEY)
    assert valkey.smembers(statics) == {name.encode() for name in celery_app.conf.beat_schedule}
    assert valkey.exists(BEAT_HEARTBEAT_KEY)
