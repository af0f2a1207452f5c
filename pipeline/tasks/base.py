"""The base task: settings, services, a database session, and the retry policy, written once."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

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

MAX_ATTEMPTS = 6  # failures counted by the policy (see Retry.counts); then the task gives up
# Countdowns stay well under the broker's visibility timeout, or Redis redelivers early.
MAX_COUNTDOWN = VISIBILITY_TIMEOUT // 2
# The failures counted so far travel in the message as this keyword argument: the previous
# release's tasks declared it, so its messages carry it and are understood (and a rollback
# understands ours). Task bodies never see it.
ATTEMPT = "attempt"


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: ~10 s, 20 s, 40 s … capped at 30 min."""
    return random.uniform(0.5, 1.0) * min(1800, 10 * 2**attempt)


@dataclass(frozen=True)
class Retry:
    """One rule of the retry policy: a task that raises one of `errors` runs again `delay(exc, attempt)`
    seconds later, with the same arguments; `counts` says whether that uses up one of its MAX_ATTEMPTS."""

    errors: tuple[type[BaseException], ...]
    delay: Callable[[Any, int], float]
    counts: bool


def as_announced(exc: Throttled, attempt: int) -> float:
    return min(MAX_COUNTDOWN, exc.retry_after + random.uniform(0.5, 3.0))


def backing_off(exc: BaseException, attempt: int) -> float:
    return min(MAX_COUNTDOWN, backoff(attempt))


# First matching rule wins. Permanent upstream errors are in no rule: they change state and stop.
RETRY_POLICY = (
    Retry((Throttled,), as_announced, counts=False),  # upstream said how long: wait that, free of charge
    Retry((Unavailable,), backing_off, counts=True),  # upstream failed: back off, give up after MAX_ATTEMPTS
)


class ReleveTask(Task):
    """Tasks take ids and JSON only, are idempotent, and are acknowledged after they run.

    Every run goes through `__call__`, which applies `retry_policy`: a task body raises
    `Throttled` or `Unavailable` and never catches them to reschedule itself.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    # Celery's own retry limit counts every retry, throttling included; the policy's budget replaces it.
    max_retries = None
    # No signature check in apply_async: a rescheduled message carries ATTEMPT, which bodies do not
    # declare (senders are checked by pipeline.celery_app.enqueue).
    typing = False
    retry_policy: tuple[Retry, ...] = RETRY_POLICY

    @property
    def settings(self) -> Settings:
        return settings_of(self.app)

    @property
    def services(self) -> Services:
        return services(self.settings)

    @property
    def rescheduled(self) -> bool:
        """Whether this run is a reschedule by the policy (rather than a fresh message)."""
        return bool(self.request.retries)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short transaction: committed when the block succeeds, then what waited for the commit runs
        (tasks sent with `enqueue(..., session=…)`); rolled back otherwise. Never open across an upstream
        call or a rate-limiter wait."""
        with session_scope(self.settings.database_url) as session:
            yield session

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        attempt = int(kwargs.pop(ATTEMPT, 0) or 0)
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            rule = next((rule for rule in self.retry_policy if isinstance(exc, rule.errors)), None)
            if rule is None:
                raise
            self._run_again(exc, rule, attempt, args, kwargs)

    def _run_again(self, exc: Exception, rule: Retry, attempt: int, args: tuple, kwargs: dict) -> NoReturn:
        countdown = rule.delay(exc, attempt)
        if rule.counts:
            if attempt + 1 >= MAX_ATTEMPTS:
                log.error("%s gave up after %d attempts: %s", self.name, attempt + 1, exc)
                raise exc
            attempt += 1
        log.info("%s rescheduled in %.0f s (%s)", self.name, countdown, exc)
        raise self.retry(args=args, kwargs={**kwargs, ATTEMPT: attempt}, countdown=countdown, exc=exc,
                         **self.message_options(kwargs))

    def message_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Options of the message that runs the task again (e.g. what logs and Flower show of it)."""
        return {}


def once(settings: Settings, claim: str, ttl: int) -> bool:
    """True the first time `claim` is made within `ttl` seconds (dedupes periodic work and enqueues)."""
    return bool(get_client(settings.valkey_url).set(once_key(claim), "1", nx=True, ex=ttl))
