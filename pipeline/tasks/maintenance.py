"""Housekeeping: worker heartbeats (for /healthz and the admin), failed tasks counted, a warm-up at start."""

from __future__ import annotations

import json
import logging
import time

from celery import bootsteps, shared_task
from celery.signals import task_failure, worker_process_init, worker_ready
from kombu.exceptions import KombuError
from redis import RedisError

from models.calendar import today_paris
from models.keys import (
    COUNT_TTL, TASK_FAILURES_KEPT, TASK_FAILURES_KEY, WORKER_HEARTBEAT_KEY, WORKERS_HEARTBEAT_KEY, count_key,
)
from models.unsent_tasks import forget_sent, take_unsent
from models.valkey import get_client, get_quick_client
from pipeline import liveness, tasks
from pipeline.celery_app import settings_of
from pipeline.outages import VALKEY, OutageLog, quiet_reconnect_logs
from pipeline.tasks.base import ReleveTask

log = logging.getLogger(__name__)

WORKER_HEARTBEAT_EVERY = 10  # seconds; /healthz calls a worker down after several missed beats
FORGET_WORKERS_AFTER = 3600  # a node silent this long leaves the heartbeat set


def record_worker_heartbeat(client, node: str, now: float | None = None) -> None:
    """Record that worker `node` is alive at `now` (one round trip; the set never grows without bound)."""
    now = time.time() if now is None else now
    pipe = client.pipeline()
    pipe.zadd(WORKERS_HEARTBEAT_KEY, {node: f"{now:.3f}"})
    pipe.zremrangebyscore(WORKERS_HEARTBEAT_KEY, "-inf", now - FORGET_WORKERS_AFTER)
    pipe.expire(WORKERS_HEARTBEAT_KEY, FORGET_WORKERS_AFTER)
    pipe.execute()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Every WORKER_HEARTBEAT_EVERY s, from the worker's own timer, write its heartbeat to Valkey
    (a step of every app `create_celery` builds).

    The timer runs in the worker's event loop (the consumer's hub), so a worker whose loop is
    stuck stops beating. /healthz reads the beats instead of pinging workers through the broker.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None
        self.outages = OutageLog(log)

    def start(self, worker) -> None:
        quiet_reconnect_logs()  # one line when the broker goes, one when it is back (pipeline/outages.py)
        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(WORKER_HEARTBEAT_EVERY, self.beat, (worker,), priority=10)

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        try:  # a worker that stops cleanly is gone at once, not after its beats go stale
            get_quick_client(settings_of(worker.app).valkey_url).zrem(WORKERS_HEARTBEAT_KEY, worker.hostname)
        except RedisError:
            pass

    def terminate(self, worker) -> None:
        # A cold shutdown (`releve worker` maps SIGTERM to it) terminates steps instead of stopping
        # them, and StartStopStep.terminate only acts on an `obj` this step does not have.
        self.stop(worker)

    def beat(self, worker) -> None:
        liveness.mark(liveness.RUNNING)  # local: the container's probe, whatever Valkey does
        try:
            record_worker_heartbeat(get_quick_client(settings_of(worker.app).valkey_url), worker.hostname)
        except RedisError as exc:  # Valkey down: /healthz says so; the worker goes on
            self.outages.down(VALKEY, exc, "the worker waits for it (heartbeats resume when it is back)")
        else:
            self.outages.up(VALKEY)


@shared_task(bind=True, name=tasks.HEARTBEAT, ignore_result=True)
def heartbeat(self) -> None:
    """Record that a worker ran a beat-scheduled task just now."""
    get_client(settings_of(self.app).valkey_url).set(WORKER_HEARTBEAT_KEY, f"{time.time():.3f}", ex=600)


def record_failure(client, task_name: str, error: str, now: float | None = None) -> None:
    """Count a failed task for today and keep it among the last few (its name and error type only: a task's
    arguments and the error's text may name a meter or a person)."""
    now = time.time() if now is None else now
    pipe = client.pipeline()
    key = count_key("tasks", "failed", today_paris())
    pipe.incr(key)
    pipe.expire(key, COUNT_TTL)
    pipe.lpush(TASK_FAILURES_KEY, json.dumps({"at": round(now, 3), "task": task_name, "error": error}))
    pipe.ltrim(TASK_FAILURES_KEY, 0, TASK_FAILURES_KEPT - 1)
    pipe.expire(TASK_FAILURES_KEY, COUNT_TTL)
    pipe.execute()


@task_failure.connect
def _count_failure(sender=None, exception=None, **_kwargs) -> None:
    """A task raised (a retry is not a failure: the policy's `self.retry` is not reported here)."""
    settings = sender.app.conf.get("releve_settings") if sender is not None else None
    if settings is None:  # a Celery app not built by create_celery (tests of the retry policy)
        return
    try:
        record_failure(get_quick_client(settings.valkey_url), sender.name, type(exception).__name__)
    except RedisError as exc:  # the dashboard misses one; the task's own error is logged by Celery
        log.warning("task failure not counted: %s", exc)


@shared_task(bind=True, base=ReleveTask, name=tasks.RESEND_UNSENT, ignore_result=True)
def resend_unsent(self: ReleveTask) -> int:
    """The recovery check (beat): send the tasks the broker refused after their sender committed."""
    sent: list[int] = []
    with self.session() as session:
        for row in take_unsent(session):
            try:
                self.app.send_task(row.name, kwargs=row.kwargs, **({"queue": row.queue} if row.queue else {}))
            except (KombuError, RedisError) as exc:
                log.warning("unsent tasks: the broker still refuses (%s); %d sent, the rest wait", exc, len(sent))
                break
            sent.append(row.id)
        forget_sent(session, sent)  # a commit that fails now sends them twice: tasks are idempotent
    if sent:
        log.info("unsent tasks: %d sent", len(sent))
    return len(sent)


@worker_process_init.connect
def quiet_pool_logs(**_kwargs) -> None:
    """Pool processes log a message given back to the broker in one line (pipeline/outages.py)."""
    quiet_reconnect_logs()


WARM_UP = (tasks.TEMPO_SEASON, tasks.TEMPO_HISTORY, tasks.ECOWATT, tasks.NATIONAL_CONSUMPTION)


@worker_ready.connect
def warm_up(sender, **_kwargs) -> None:
    """A worker that starts asks for the public RTE data at once, instead of at the next beat slot.

    Each of these tasks dedupes on its period (and EcoWatt on its limiter), so ten workers
    starting together cost what one costs.
    """
    for name in WARM_UP:
        sender.app.send_task(name)
