"""Housekeeping: worker heartbeats (for /healthz and the admin), and a warm-up at start."""

from __future__ import annotations

import logging
import time

from celery import bootsteps, shared_task
from celery.signals import worker_ready
from redis import RedisError

from models.keys import WORKER_HEARTBEAT_KEY, WORKERS_HEARTBEAT_KEY
from models.valkey import get_client, get_quick_client
from pipeline import liveness, tasks
from pipeline.celery_app import settings_of

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

    def start(self, worker) -> None:
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
        # A cold shutdown (SIGTERM, which `releve worker` maps to it) terminates steps instead of
        # stopping them: the heartbeat must go all the same.
        self.stop(worker)

    def beat(self, worker) -> None:
        liveness.mark(liveness.RUNNING)  # local: the container's probe, whatever Valkey does
        try:
            record_worker_heartbeat(get_quick_client(settings_of(worker.app).valkey_url), worker.hostname)
        except RedisError as exc:  # Valkey down: /healthz says so; the worker goes on
            log.warning("worker heartbeat not written: %s", exc)


@shared_task(bind=True, name=tasks.HEARTBEAT, ignore_result=True)
def heartbeat(self) -> None:
    """Record that a worker ran a beat-scheduled task just now."""
    get_client(settings_of(self.app).valkey_url).set(WORKER_HEARTBEAT_KEY, f"{time.time():.3f}", ex=600)


WARM_UP = (tasks.TEMPO_SEASON, tasks.TEMPO_HISTORY, tasks.ECOWATT, tasks.NATIONAL_CONSUMPTION)


@worker_ready.connect
def warm_up(sender, **_kwargs) -> None:
    """A worker that starts asks for the public RTE data at once, instead of at the next beat slot.

    Each of these tasks dedupes on its period (and EcoWatt on its limiter), so ten workers
    starting together cost what one costs.
    """
    for name in WARM_UP:
        sender.app.send_task(name)
