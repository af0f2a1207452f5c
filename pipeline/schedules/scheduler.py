"""The beat scheduler: redbeat (schedule in Valkey), a single-beat lock, a heartbeat, and outages survived.

Why beat used to die with Valkey: celery-redbeat's `tick()` extends its lock and reads the
schedule in Valkey, and any `redis.ConnectionError` there goes up through Celery's beat loop,
which ends the process. Its lock is taken once, at start, by a blocking `acquire()` in a
`beat_init` handler (an error there leaves no lock, and the next tick fails on `None`), and a
lock that expired during a long outage is never taken again. A Valkey that comes back empty
also comes back without the schedule, which redbeat writes only at start.

`ReleveScheduler` keeps redbeat's schedule format and lock key (a beat of the previous release
and one of this release exclude each other during a deploy) and does the rest itself, in `tick`:
- it takes the lock without blocking, renews it every tick, and when the lock is lost (it expired
  during an outage, Valkey restarted empty, another beat took over) stands by and tries again;
- it writes the schedule again when Valkey no longer has it;
- a Valkey or broker error ends the tick, not the process: beat logs once that it waits, tries
  again every few seconds, and logs once that it resumes. Entries that fell due meanwhile run
  once when it is back (their last run is recorded only once the message is sent);
- it writes a heartbeat after each tick, for /healthz.
"""

from __future__ import annotations

import logging
import time

from celery.beat import SchedulingError
from redbeat import RedBeatScheduler
from redbeat.schedulers import get_redis
from redis.exceptions import LockError

from models.keys import BEAT_HEARTBEAT_KEY, REDBEAT_LOCK_KEY
from models.valkey import get_client
from pipeline.outages import BROKER, INFRASTRUCTURE_ERRORS, VALKEY, OutageLog, quiet_reconnect_logs

log = logging.getLogger(__name__)


def _infrastructure_cause(exc: BaseException) -> BaseException | None:
    """The infrastructure error behind `exc` (Celery wraps a failed send in SchedulingError), if any."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, INFRASTRUCTURE_ERRORS):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


class ReleveScheduler(RedBeatScheduler):
    def __init__(self, app, *args, **kwargs):
        self.outages = OutageLog(log)
        self._schedule_written = False
        self._lock = None
        self._standing_by = False
        quiet_reconnect_logs()
        super().__init__(app, *args, **kwargs)

    # -- the schedule in Valkey ---------------------------------------------------------------

    def setup_schedule(self):
        """Write the static schedule to Valkey; an outage at start postpones it to the first tick that can."""
        try:
            super().setup_schedule()
        except INFRASTRUCTURE_ERRORS as exc:
            self.outages.down(VALKEY, exc, "beat waits for it")
            self._schedule_written = False
        else:
            self._schedule_written = True

    def _schedule_vanished(self, client) -> bool:
        return not client.exists(self.app.redbeat_conf.statics_key)

    # -- the single-beat lock -------------------------------------------------------------------

    def _hold_lock(self, client) -> bool:
        """Whether this beat holds the lock (renewed now, or taken now); never blocks."""
        if self._lock is None or self._lock.redis is not client:
            self._lock = client.lock(REDBEAT_LOCK_KEY, timeout=self.lock_timeout, thread_local=False)
        if self._lock.local.token is not None:
            try:
                self._lock.reacquire()  # back to a full lock_timeout
                return True
            except LockError:
                log.warning("beat lost its lock (it expired or Valkey restarted empty): taking it again")
                self._lock.local.token = None
        if self._lock.acquire(blocking=False):
            log.info("beat holds the lock: this beat schedules")
            self._standing_by = False
            self._schedule_written = False  # another beat may have changed it meanwhile: write ours again
            return True
        if not self._standing_by:
            log.info("another beat holds the lock: this one stands by")
            self._standing_by = True
        return False

    @property
    def lock(self):
        """The lock when this beat holds it (redbeat and the heartbeat test `scheduler.lock`)."""
        return self._lock if self._lock is not None and self._lock.local.token is not None else None

    @lock.setter
    def lock(self, value):  # redbeat's class attribute and close() assign it; the lock is ours
        pass

    # -- ticks ------------------------------------------------------------------------------------

    @property
    def _outage_interval(self) -> float:
        settings = getattr(self.app.conf, "releve_settings", None)
        wait = settings.retry_backoff_seconds if settings is not None else 5.0
        return max(0.2, min(self.max_interval, wait))

    def tick(self, *args, **kwargs):
        try:
            client = get_redis(self.app)
            if not self._hold_lock(client):
                self.outages.up(VALKEY)
                return min(self.max_interval, self.lock_timeout / 3)
            if not self._schedule_written or self._schedule_vanished(client):
                if self._schedule_written:
                    log.warning("beat's schedule is gone from Valkey (restarted empty?): writing it again")
                super().setup_schedule()
                self._schedule_written = True
            interval = super().tick(*args, **kwargs)
            get_client(self.app.conf.redbeat_redis_url).set(BEAT_HEARTBEAT_KEY, f"{time.time():.3f}", ex=600)
        except INFRASTRUCTURE_ERRORS as exc:
            self.outages.down(VALKEY, exc, "beat waits for it and schedules again once it is back")
            return self._outage_interval
        self.outages.up(VALKEY)
        if self.outages.is_down(BROKER):
            return self._outage_interval
        return interval

    def maybe_due(self, entry, **kwargs):
        """Send `entry` if it is due; its last run is recorded once the message is sent, so an entry due
        while the broker is down runs once it is back, instead of being skipped."""
        is_due, next_time_to_run = entry.is_due()
        if not is_due:
            return next_time_to_run
        log.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            self.apply_async(entry, advance=False, **kwargs)
        except (SchedulingError, *INFRASTRUCTURE_ERRORS) as exc:
            cause = _infrastructure_cause(exc)
            if cause is None:
                log.exception("Scheduler: %s not sent: %s", entry.name, exc)
                self.reserve(entry)  # a broken entry must not be sent again every tick
                return next_time_to_run
            self.outages.down(BROKER, cause, "beat sends what falls due once it is back")
            return self._outage_interval
        self.outages.up(BROKER)
        self.reserve(entry)
        return next_time_to_run

    def close(self):
        lock, self._lock = self._lock, None
        if lock is not None and lock.local.token is not None:
            try:
                lock.release()
                log.info("beat released its lock")
            except (LockError, *INFRASTRUCTURE_ERRORS):
                pass  # it expires by itself
        super().close()
