"""The base task: settings, services, a database session, and the retry policy, written once."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Reject
from sqlalchemy.orm import Session

from models.db import get_engine, session_scope
from models.keys import once_key
from models.settings import Settings
from models.valkey import get_client, get_quick_client
from pipeline.celery_app import VISIBILITY_TIMEOUT, settings_of
from pipeline.clients.base import Throttled, Unavailable
from pipeline.outages import BROKER, DATABASE, INFRASTRUCTURE_ERRORS, VALKEY, OutageLog, component_of
from pipeline.services import Services, services

log = logging.getLogger(__name__)
outages = OutageLog(log)  # what this process saw down (one line per change, see pipeline/outages.py)

MAX_ATTEMPTS = 6  # failures counted by the policy (see Retry.counts); then the task gives up
# Countdowns stay well under the broker's visibility timeout, or Redis redelivers early.
MAX_COUNTDOWN = VISIBILITY_TIMEOUT // 2
# The failures counted so far travel in the message as this keyword argument: the previous
# release's tasks declared it, so its messages carry it and are understood (and a rollback
# understands ours). Task bodies never see it.
ATTEMPT = "attempt"
DEFAULTS = Settings()


def backoff(attempt: int, base: float = DEFAULTS.retry_backoff_seconds, cap: float = 1800) -> float:
    """Exponential backoff with full jitter: ~base, 2 base, 4 base … (10 s, 20 s, 40 s by default), capped."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2 ** min(attempt, 20))


@dataclass(frozen=True)
class Retry:
    """One rule of the retry policy: a task that raises one of `errors` runs again `delay(task, exc, attempt)`
    seconds later, with the same arguments; `counts` says whether that uses up one of its MAX_ATTEMPTS."""

    errors: tuple[type[BaseException], ...]
    delay: Callable[[Any, Any, int], float]
    counts: bool


def as_announced(task: ReleveTask, exc: Throttled, attempt: int) -> float:
    return min(MAX_COUNTDOWN, exc.retry_after + random.uniform(0.5, 3.0))


def backing_off(task: ReleveTask, exc: BaseException, attempt: int) -> float:
    return min(MAX_COUNTDOWN, backoff(attempt, task.backoff_settings.retry_backoff_seconds))


def waiting_out(task: ReleveTask, exc: BaseException, attempt: int) -> float:
    """An outage: back off from RETRY_BACKOFF_SECONDS up to OUTAGE_RETRY_MAX_SECONDS, for as long as it lasts
    (the exponent is the message's reschedules so far, which Celery carries in every message)."""
    settings = task.backoff_settings
    return min(MAX_COUNTDOWN, backoff(task.request.retries or 0, settings.retry_backoff_seconds,
                                      settings.outage_retry_max_seconds))


# First matching rule wins. Permanent upstream errors are in no rule: they change state and stop.
RETRY_POLICY = (
    Retry((Throttled,), as_announced, counts=False),  # upstream said how long: wait that, free of charge
    Retry(INFRASTRUCTURE_ERRORS, waiting_out, counts=False),  # Valkey, broker or PostgreSQL down: wait it out
    Retry((Unavailable,), backing_off, counts=True),  # upstream failed: back off, give up after MAX_ATTEMPTS
)
PROBE_EVERY = 2.0
# How long a task whose retry the broker refuses waits for it (never past OUTAGE_RETRY_MAX_SECONDS), well
# under the tasks' soft time limit.
MAX_PUBLISH_WAIT = 120.0  # seconds: how often a process that saw an outage checks, after a task, whether it is over


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
    # A message the broker refuses after its sender's commit is kept in PostgreSQL and sent by the
    # recovery check (pipeline/celery_app.py `enqueue`); False for tasks whose arguments must not be stored.
    keep_if_unsent = True

    @property
    def settings(self) -> Settings:
        return settings_of(self.app)

    @property
    def backoff_settings(self) -> Settings:
        """The settings that shape the policy's waits (defaults for an app built without settings)."""
        return getattr(self.app.conf, "releve_settings", None) or DEFAULTS

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
            result = super().__call__(*args, **kwargs)
        except Exception as exc:
            rule = next((rule for rule in self.retry_policy if isinstance(exc, rule.errors)), None)
            if rule is None:
                raise
            self._run_again(exc, rule, attempt, args, kwargs)
        if outages.is_down():
            self._probe_outages()
        return result

    def _run_again(self, exc: Exception, rule: Retry, attempt: int, args: tuple, kwargs: dict) -> NoReturn:
        countdown = rule.delay(self, exc, attempt)
        if rule.counts:
            if attempt + 1 >= MAX_ATTEMPTS:
                log.error("%s gave up after %d attempts: %s", self.name, attempt + 1, exc)
                raise exc
            attempt += 1
        if isinstance(exc, INFRASTRUCTURE_ERRORS):
            outages.down(component_of(exc), exc, "tasks that need it go back to the queue and run again")
            log.debug("%s rescheduled in %.1f s (%s)", self.name, countdown, exc)
        else:
            log.info("%s rescheduled in %.0f s (%s)", self.name, countdown, exc)
        options = dict(args=args, kwargs={**kwargs, ATTEMPT: attempt}, countdown=countdown, exc=exc,
                       **self.message_options(kwargs))
        deadline = time.monotonic() + min(MAX_PUBLISH_WAIT, self.backoff_settings.outage_retry_max_seconds)
        pause = 0.5
        while True:
            try:
                raise self.retry(**options)
            except Reject as rejected:
                # Celery could not send the message that runs the task again (the broker is down too), and
                # would drop this one. Wait for the broker a while (the message is sent once it is back),
                # then give this one back to it: requeued if it takes it, else left unacknowledged and
                # redelivered after its visibility timeout. Backfill windows need neither: PostgreSQL
                # remembers them (pipeline/backfill.py).
                reason = rejected.reason
                outages.down(component_of(reason) if isinstance(reason, BaseException) else BROKER, reason,
                             f"tasks wait for it up to {deadline - time.monotonic():.0f} s, then go back to the queue")
                if time.monotonic() + pause > deadline:
                    raise Reject(reason, requeue=True) from None
                time.sleep(pause)
                pause = min(5.0, pause * 2)

    _last_probe = 0.0

    def _probe_outages(self) -> None:
        """This process saw an outage and a task just succeeded: check (at most every PROBE_EVERY s)
        whether what was down answers again, so the log says once that it is over."""
        now = time.monotonic()
        if now - ReleveTask._last_probe < PROBE_EVERY:
            return
        ReleveTask._last_probe = now
        settings = self.backoff_settings
        for component in outages.components_down():
            try:
                if component == DATABASE:
                    if not settings.database_url:
                        continue
                    with get_engine(settings.database_url).connect() as conn:
                        conn.exec_driver_sql("SELECT 1")
                else:  # Valkey, or the broker (Valkey unless CELERY_BROKER_URL says otherwise)
                    url = settings.valkey_url if component == VALKEY else settings.celery_broker_url
                    if url.startswith(("redis://", "rediss://", "unix://")):
                        get_quick_client(url).ping()
            except Exception:  # noqa: BLE001 - still down: nothing to say
                continue
            outages.up(component)

    def message_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Options of the message that runs the task again (e.g. what logs and Flower show of it)."""
        return {}


def once(settings: Settings, claim: str, ttl: int) -> bool:
    """True the first time `claim` is made within `ttl` seconds (dedupes periodic work and enqueues)."""
    return bool(get_client(settings.valkey_url).set(once_key(claim), "1", nx=True, ex=ttl))
