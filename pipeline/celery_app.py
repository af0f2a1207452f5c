"""Celery apps built from the settings, and the one way code sends a task.

`create_celery(settings)` builds an app for given settings: the web app builds one from its
own settings (`webapp.create_app`, `app.extensions["celery"]`), the CLI and the tests from
theirs. `pipeline.app` is the entry point of `celery -A pipeline …` (worker, beat, Flower),
configured from the environment on first use. Every app has every task (they are shared
tasks): a task reads its settings from the app that runs it, never from a global one.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from celery import Celery
from kombu import Exchange, Queue
from kombu.exceptions import KombuError
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import access
from models.calendar import PARIS
from models.db import after_commit
from models.keys import REDBEAT_PREFIX
from models.settings import Settings, load
from pipeline import broker_fixes, queues
from pipeline.schedules import schedule

log = logging.getLogger(__name__)
broker_fixes.apply()

# Longest task hard limit is 10 min and countdowns stay short; the broker's visibility
# timeout must exceed both or Redis redelivers messages that are still being worked on.
VISIBILITY_TIMEOUT = 3600
TASK_SOFT_TIME_LIMIT = 540  # a task gets SoftTimeLimitExceeded after this many seconds …
TASK_TIME_LIMIT = 600  # … and is killed after this many

TASK_MODULES = ("pipeline.tasks.maintenance", "pipeline.tasks.enedis", "pipeline.tasks.rte", "pipeline.tasks.mail",
                "pipeline.tasks.transfers", "pipeline.tasks.costs")


def celery_config(settings: Settings) -> dict:
    """Celery configuration for these settings (pure, so tests can build it)."""
    return dict(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_broker_url,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        # Workers and beat wait for a broker that is down, however long (Celery's default gives up after
        # 100 attempts, about an hour, and the process exits).
        broker_connection_max_retries=None,
        # A result that cannot be stored yet (Valkey down) is tried again for a while rather than turning a
        # task that did its work into a failure.
        result_backend_always_retry=True,
        result_backend_max_retries=30,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT,
        # Stopping (SIGTERM, which `releve worker` maps to Celery's cold shutdown): running tasks
        # get this long to end, then are cancelled and their messages go back to the queue at
        # once (acks_late; the Redis transport restores what is unacked when it closes), not
        # after the visibility timeout. See pipeline/liveness.py for the probe side.
        worker_soft_shutdown_timeout=settings.worker_shutdown_seconds,
        worker_consumer="pipeline.liveness:ReleveConsumer",
        worker_prefetch_multiplier=1,
        task_default_queue=queues.DEFAULT,
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in queues.ALL],
        task_routes=(queues.route,),
        task_create_missing_queues=False,  # a queue name that is not declared is an error, not a new queue
        timezone=PARIS.key,
        enable_utc=True,
        beat_schedule=schedule(settings=settings),
        beat_scheduler="pipeline.schedules.scheduler:ReleveScheduler",
        beat_max_loop_interval=15,
        redbeat_redis_url=settings.valkey_url,
        redbeat_key_prefix=REDBEAT_PREFIX,
        redbeat_lock_timeout=90,
        redbeat_lock_key=None,  # the scheduler takes the lock (the same key) itself, without blocking
        # Beat's own Valkey client: a server that stops answering ends a tick within seconds, never hangs it.
        redbeat_redis_options={"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30},
        worker_send_task_events=True,
        task_send_sent_event=True,
        releve_settings=settings,
    )


def _configure_from_environment(sender: Celery, **_kwargs) -> None:
    # Runs on first use of the configuration, not at import: tests and tools can import freely.
    if "releve_settings" not in sender.conf:
        settings = load().require_runtime()
        sender.conf.update(celery_config(settings))
        access.configure(settings.valkey_url)  # a task's changes reach the API's kept access (models/access.py)


def create_celery(settings: Settings | None = None) -> Celery:
    """A Celery app for `settings`; without settings, for the environment, read on first use."""
    from pipeline.tasks.maintenance import BrokerWatch, WorkerHeartbeat

    for module in TASK_MODULES:  # shared tasks register on every app, this one included
        importlib.import_module(module)
    # Only the environment's app (the worker's, beat's) becomes Celery's "current" one: the
    # apps built for given settings are passed around explicitly.
    celery = Celery("releve", include=TASK_MODULES, set_as_current=settings is None)
    if settings is None:
        celery.on_configure.connect(_configure_from_environment, weak=False)
    else:
        celery.conf.update(celery_config(settings))
        access.configure(settings.valkey_url)
    celery.steps["worker"].add(WorkerHeartbeat)
    celery.steps["consumer"].add(BrokerWatch)
    return celery


def settings_of(celery: Celery) -> Settings:
    """The settings `celery` was built from."""
    return celery.conf.releve_settings


def enqueue(celery: Celery, name: str, kwargs: dict[str, Any] | None = None, *, session: Session | None = None,
            on_error: Callable[[Exception], object] | None = None, **options: Any) -> None:
    """Send task `name` with `kwargs` through `celery` (its broker, its routes: no queue to name).

    With `session`, the message is sent once that session's transaction commits (a worker
    must find the rows it names), and never if it rolls back. The transaction is over by
    then: a broker that cannot take the message does not undo it. The task is kept in
    PostgreSQL instead (`unsent_tasks`), and the recovery check sends it once the broker is
    back, unless its arguments must not be stored (mails: `keep_if_unsent = False`); then
    it is handed to `on_error`, or logged. Without `session` it is sent now and errors
    propagate. The arguments are checked against the task's signature first, so a wrong one
    fails in the sender, not in a worker.
    """
    kwargs = kwargs or {}
    task = celery.tasks[name]
    inspect.signature(task.run).bind(**kwargs)
    # Nobody waits for the result of what is enqueued: the sender does not subscribe to it (a subscription
    # per message sent, and with the broker down a 20-s reconnection loop), and the worker does not store it.
    options.setdefault("ignore_result", True)
    if session is None:
        celery.send_task(name, kwargs=kwargs, **options)
        return
    bind = session.get_bind()

    def send() -> None:
        try:
            celery.send_task(name, kwargs=kwargs, **options)
        except (KombuError, RedisError) as exc:
            kept = getattr(task, "keep_if_unsent", False) and keep(bind, name, kwargs, options.get("queue"), exc)
            if kept:
                log.warning("%s not enqueued (%s): kept, the recovery check sends it", name, exc)
            if on_error is None:
                if not kept:
                    log.error("%s not enqueued: %s", name, exc)  # never its arguments: they may be personal
            else:
                on_error(exc)

    after_commit(session, send)


def keep(bind, name: str, kwargs: dict[str, Any], queue: str | None, exc: Exception) -> bool:
    """Keep a task the broker refused in PostgreSQL, in a transaction of its own; False if that fails too."""
    from models.unsent_tasks import keep_unsent

    try:
        with Session(bind=bind) as own:
            keep_unsent(own, name, kwargs, queue, f"{type(exc).__name__}: {exc}")
            own.commit()
        return True
    except SQLAlchemyError as db_exc:
        log.error("%s not enqueued (%s) nor kept (%s)", name, exc, type(db_exc).__name__)
        return False
