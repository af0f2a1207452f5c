"""Outages of what the pipeline stands on: Valkey (cache, limiter, broker) and PostgreSQL.

An error of `INFRASTRUCTURE_ERRORS` says that a server is unreachable for now, never that the work
is wrong: the task goes back to the queue and runs again once it is back (`pipeline/tasks/base.py`),
beat and the workers wait (`pipeline/schedules/scheduler.py`, `pipeline/tasks/maintenance.py`).

Each process says so once per change of state ("PostgreSQL unreachable … waiting", then "PostgreSQL
reachable again after 12 s"), not once per failed attempt: `OutageLog` keeps that state, and
`QuietReconnects` does the same for Celery's own "cannot connect to the broker, trying again" lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
import redis
import sqlalchemy.exc
from kombu.exceptions import OperationalError as BrokerError

from pipeline.ratelimit import LimiterUnavailable

VALKEY = "Valkey"
BROKER = "Broker"
DATABASE = "PostgreSQL"

# `redis.ConnectionError` includes BusyLoadingError (Valkey is reading its append-only file back).
# SQLAlchemy wraps psycopg's OperationalError (server gone, starting up, shutting down, a connection
# reset) in its own; a pool that cannot hand out a connection in time raises its TimeoutError.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError, redis.TimeoutError, LimiterUnavailable, BrokerError,
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError, psycopg.OperationalError,
)


def component_of(exc: BaseException) -> str:
    """Which server an infrastructure error is about, as the logs name it."""
    if isinstance(exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError, psycopg.OperationalError)):
        return DATABASE
    if isinstance(exc, BrokerError):
        return BROKER
    return VALKEY


def short(exc: BaseException) -> str:
    """The first line of an error, without SQL or parameters (hide_parameters keeps values out anyway)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class OutageLog:
    """What this process saw down, since when; logs each change of state once."""

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic):
        self.log = logger
        self.clock = clock
        self.down_since: dict[str, float] = {}
        self._lock = threading.Lock()

    def down(self, component: str, exc: BaseException | str, waiting: str = "waiting for it") -> bool:
        """Record that `component` failed; True (and one warning) only when it was up until now."""
        with self._lock:
            if component in self.down_since:
                self.log.debug("%s still unreachable (%s)", component, exc if isinstance(exc, str) else short(exc))
                return False
            self.down_since[component] = self.clock()
        self.log.warning("%s unreachable (%s): %s", component, exc if isinstance(exc, str) else short(exc), waiting)
        return True

    def up(self, component: str) -> bool:
        """Record that `component` answered; True (and one line) only when it was down until now."""
        with self._lock:
            since = self.down_since.pop(component, None)
        if since is None:
            return False
        self.log.warning("%s reachable again after %.0f s: resuming", component, self.clock() - since)
        return True

    def is_down(self, component: str | None = None) -> bool:
        return bool(self.down_since) if component is None else component in self.down_since

    def components_down(self) -> list[str]:
        return list(self.down_since)


class QuietReconnects(logging.Filter):
    """Lets through the first of Celery's repeated "cannot connect … trying again" lines of an outage,
    and the one saying it is connected again; the rest go to DEBUG (the consumer retries forever)."""

    RETRY_MARKS = ("Cannot connect to", "Trying again in", "Trying to re-establish the connection")
    BACK_MARKS = ("Connected to",)

    def __init__(self) -> None:
        super().__init__()
        self.failing_since: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(mark in message for mark in self.BACK_MARKS):
            if self.failing_since is not None:
                record.msg = f"{message} (after {time.monotonic() - self.failing_since:.0f} s without the broker)"
                record.args = ()
            self.failing_since = None
            return True
        if any(mark in message for mark in self.RETRY_MARKS):
            if self.failing_since is None:
                self.failing_since = time.monotonic()
                record.exc_info = None  # one line: the cause is in the message
                record.exc_text = None
                return True
            return False
        return True


class QuietRejects(logging.Filter):
    """Celery logs a message given back to the broker (`Reject`, see pipeline/tasks/base.py) with a traceback:
    one line is enough, the outage itself is logged once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and "reject requeue=True" in record.getMessage():
            record.exc_info = None
            record.exc_text = None
        return True


_installed = threading.Lock()
QUIET_LOGGERS = ("celery.worker.consumer.consumer", "celery.worker.consumer.connection", "kombu.connection",
                 "celery.beat")


def quiet_reconnect_logs() -> None:
    """Install `QuietReconnects` on the loggers of Celery's reconnection loops, `QuietRejects` on its task
    log (once per process)."""
    with _installed:
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, QuietReconnects) for f in logger.filters):
                logger.addFilter(QuietReconnects())
        trace = logging.getLogger("celery.app.trace")
        if not any(isinstance(f, QuietRejects) for f in trace.filters):
            trace.addFilter(QuietRejects())
