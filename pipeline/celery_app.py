"""The one Celery application (`celery -A pipeline …`), configured from the settings."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from models.calendar import PARIS
from models.keys import REDBEAT_PREFIX
from models.settings import Settings, load
from pipeline.schedules import BEAT_SCHEDULE

# Longest task hard limit is 10 min and countdowns stay short; the broker's visibility
# timeout must exceed both or Redis redelivers messages that are still being worked on.
VISIBILITY_TIMEOUT = 3600
MAIL_QUEUE = "mail"  # verification, reset and notice mails: a person waits for them
QUEUES = ("interactive", "refresh", "backfill", "rte", MAIL_QUEUE, "default")

app = Celery("releve", include=["pipeline.tasks.maintenance", "pipeline.tasks.enedis", "pipeline.tasks.rte",
                                "pipeline.tasks.mail", "pipeline.tasks.transfers"])


def celery_config(settings: Settings) -> dict:
    """Celery configuration for these settings (pure, so tests can build it)."""
    return dict(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_broker_url,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_time_limit=600,
        task_soft_time_limit=540,
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        timezone=PARIS.key,
        enable_utc=True,
        beat_schedule=BEAT_SCHEDULE,
        beat_scheduler="pipeline.schedules.scheduler:ReleveScheduler",
        beat_max_loop_interval=15,
        redbeat_redis_url=settings.valkey_url,
        redbeat_key_prefix=REDBEAT_PREFIX,
        redbeat_lock_timeout=90,
        worker_send_task_events=True,
        task_send_sent_event=True,
        releve_settings=settings,
    )


@app.on_configure.connect
def _configure(sender: Celery, **_kwargs) -> None:
    # Runs on first use of the configuration, not at import: tests and tools can import freely.
    if "releve_settings" not in sender.conf:
        sender.conf.update(celery_config(load().require_runtime()))


def settings_of(celery_app: Celery = app) -> Settings:
    return celery_app.conf.releve_settings
