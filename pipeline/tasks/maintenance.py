"""Housekeeping: the heartbeat a worker answers so the admin can see it alive, and a warm-up at start."""

from __future__ import annotations

import time

from celery.signals import worker_ready

from models.valkey import WORKER_HEARTBEAT_KEY, get_client
from pipeline.celery_app import app, settings_of


@app.task(name="releve.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker ran a beat-scheduled task just now."""
    get_client(settings_of().valkey_url).set(WORKER_HEARTBEAT_KEY, f"{time.time():.3f}", ex=600)


WARM_UP = ("releve.rte.tempo_season", "releve.rte.ecowatt", "releve.rte.national_consumption")


@worker_ready.connect
def warm_up(sender, **_kwargs) -> None:
    """A worker that starts asks for the public RTE data at once, instead of at the next beat slot.

    Each of these tasks dedupes on its period (and EcoWatt on its limiter), so ten workers
    starting together cost what one costs.
    """
    for name in WARM_UP:
        sender.app.send_task(name, queue="rte")
