"""The base task: settings, services, a database session, and one retry policy."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from sqlalchemy.orm import Session

from models.db import session_scope
from models.keys import once_key
from models.settings import Settings
from models.valkey import get_client
from pipeline.celery_app import VISIBILITY_TIMEOUT, settings_of
from pipeline.clients.base import Throttled, Unavailable
from pipeline.services import Services, services

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # technical failures; throttling does not count (see reschedule)
# Countdowns stay well under the broker's visibility timeout, or Redis redelivers early.
MAX_COUNTDOWN = VISIBILITY_TIMEOUT // 2


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: ~10 s, 20 s, 40 s … capped at 30 min."""
    return random.uniform(0.5, 1.0) * min(1800, 10 * 2**attempt)


class ReleveTask(Task):
    """Tasks take ids and JSON only, are idempotent, and are acknowledged after they run."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    typing = True

    @property
    def settings(self) -> Settings:
        return settings_of(self.app)

    @property
    def services(self) -> Services:
        return services(self.settings)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back otherwise."""
        with session_scope(self.settings.database_url) as session:
            yield session

    def reschedule(self, exc: Throttled | Unavailable, kwargs: dict[str, Any], **options: Any):
        """Retry later: throttling waits as asked and keeps the attempt budget; failures use it up.

        `options` go to the new message (e.g. argsrepr/kwargsrepr that hide its arguments)."""
        attempt = int(kwargs.get("attempt", 0))
        if isinstance(exc, Throttled):
            countdown = min(MAX_COUNTDOWN, exc.retry_after + random.uniform(0.5, 3.0))
        else:
            if attempt + 1 >= MAX_ATTEMPTS:
                log.error("%s gave up after %d attempts: %s", self.name, attempt + 1, exc)
                raise exc
            countdown = backoff(attempt)
            attempt += 1
        log.info("%s rescheduled in %.0f s (%s)", self.name, countdown, exc)
        raise self.retry(kwargs={**kwargs, "attempt": attempt}, countdown=countdown, max_retries=None, exc=exc,
                         **options)


def once(settings: Settings, claim: str, ttl: int) -> bool:
    """True the first time `claim` is made within `ttl` seconds (dedupes periodic work and enqueues)."""
    return bool(get_client(settings.valkey_url).set(once_key(claim), "1", nx=True, ex=ttl))
