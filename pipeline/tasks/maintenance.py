"""Housekeeping tasks: the heartbeat a worker answers so the admin can see it alive."""

from __future__ import annotations

import time

from pipeline.celery_app import app, settings_of
from models.valkey import WORKER_HEARTBEAT_KEY, get_client


@app.task(name="releve.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker ran a beat-scheduled task just now."""
    get_client(settings_of().valkey_url).set(WORKER_HEARTBEAT_KEY, f"{time.time():.3f}", ex=600)
