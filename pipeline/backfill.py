"""Backfills that reach their end whatever Valkey, the broker, PostgreSQL or upstream went through.

The plan and which windows are done live in PostgreSQL (`models/backfills.py`); Valkey holds the
readings, the queued windows, their dedupe claims and a copy of the progress
(`releve:progress:{point}`, which the previous release's pages read). A window is marked done
once its readings are in the cache, and a window marked done is never fetched again by the
backfill (`already_done`), however many copies of its message the queue holds.

The recovery check (`resume`, run by beat every RECOVERY_CHECK_SECONDS) takes over:
- a backfill whose progress vanished from Valkey (Valkey restarted empty, or lost its queues):
  at once. Windows done before, whose readings went with Valkey, are fetched again;
- every unfinished backfill once after Valkey restarted on its data (its run id changed): a message
  a worker had just taken from the queue may be lost, others are held until the visibility timeout;
  windows done whose readings the append-only file missed (its last second) are fetched again;
- a backfill that has not moved for BACKFILL_STALL_SECONDS while no other backfill moved either
  (so its windows are not simply queued behind others), unless Enedis is pausing every worker
  (their messages were lost: a task the broker could not take back during an outage).
In the last two cases the missing windows are enqueued again whatever their dedupe claims say;
copies of a message still queued cost nothing upstream (a window done is not fetched again);
- a point that was never onboarded (its message was lost): onboarded again.
A finished backfill is never started over, whatever expired from the cache.

Copies of a window's message never fetch it twice: each run claims the window in PostgreSQL before
calling upstream (`fetching`), so the claim survives whatever Valkey forgets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from celery import Celery
from redis import RedisError
from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import backfills
from models.backfills import Backfill, Progress, Window
from models.cache import EncryptedCache
from models.db import after_commit
from models.keys import (
    VALKEY_RUN_KEY, fetch_claim, once_key, progress_done_key, progress_key, progress_window,
    resume_claim,
)
from models.usage_points import UsagePoint
from models.valkey import get_client
from pipeline import tasks
from pipeline.celery_app import TASK_TIME_LIMIT, enqueue, settings_of
from pipeline.clients.base import SHORT_WAIT, Throttled
from pipeline.outages import VALKEY
from pipeline.tasks.base import ReleveTask, once, outages

log = logging.getLogger(__name__)

CLAIM_SECONDS = 3600  # a backfill window is enqueued at most once an hour (but see `resume`)
VALKEY_COPY_SECONDS = 7 * 86400  # the progress copy in Valkey (and its done set) outlive any backfill


def enqueue_window(celery: Celery, point_id: int, series: str, start: date, end: date, *, backfill: bool = False,
                   dedupe_seconds: int = 300, session=None, again: bool = False) -> bool:
    """Enqueue a window fetch unless the same one was enqueued in the last `dedupe_seconds`
    (on `interactive`, or `backfill` for a backfill window: see pipeline/queues.py); with
    `session`, once it commits. `again`: whatever the claim says (its message was lost)."""
    settings = settings_of(celery)
    claim = fetch_claim(point_id, series, start, end)
    if again:
        get_client(settings.valkey_url).set(once_key(claim), "1", ex=dedupe_seconds)
    elif not once(settings, claim, dedupe_seconds):
        return False
    enqueue(celery, tasks.FETCH_WINDOW, dict(point_id=point_id, series=series, start=start.isoformat(),
                                             end=end.isoformat(), backfill=backfill), session=session)
    return True


def _now() -> datetime:
    return datetime.now(UTC)


# Only an existing copy is updated: a copy that vanished stays missing until the recovery check sees it.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'done', ARGV[2])
return 1
"""


def _copy_to_valkey(task: ReleveTask, point_id: int, progress: Progress, *, create: bool = False) -> None:
    """Valkey's copy of the progress: what the previous release's pages read, and the mark whose
    absence tells the recovery check that Valkey forgot the backfill. Only planning and the recovery
    check create it (`create`); a window done after Valkey lost it does not hide the loss.
    Best effort: PostgreSQL holds the truth."""
    try:
        client = get_client(task.settings.valkey_url)
        key = progress_key(point_id)
        if create:
            pipe = client.pipeline(transaction=False)
            pipe.hset(key, mapping=progress.as_dict())
            pipe.expire(key, VALKEY_COPY_SECONDS)
            pipe.execute()
        else:
            client.eval(_UPDATE, 1, key, progress.total, progress.done)
    except RedisError as exc:
        outages.down(VALKEY, exc, "the progress copy waits; PostgreSQL holds the backfill")


# -- planning and recording ----------------------------------------------------------------------


def start_backfill(task: ReleveTask, point_id: int, plan: list[Window]) -> Progress:
    """Record the plan in PostgreSQL, then enqueue the windows not done yet.

    Onboarding may run twice (a worker lost mid-task, a renewed consent): windows already done
    stay done and are not enqueued again; those enqueued within the hour are not either. Windows
    the previous release recorded as done in Valkey count as done. If the broker refuses the
    windows now, the plan is recorded and the recovery check enqueues them once it is back.
    """
    client = get_client(task.settings.valkey_url)
    members = [progress_window(series, start, end) for series, start, end in plan]
    done_before = {w for w, done in zip(plan, client.smismember(progress_done_key(point_id), members) if plan else [])
                   if done}
    now = _now()
    with task.session() as session:
        backfills.record_plan(session, point_id, plan, now)
        for series, start, end in done_before:
            backfills.mark_done(session, point_id, series, start, end, now)
        missing = set(backfills.missing_windows(session, point_id))
        progress = backfills.progress_of(session, [point_id])[point_id]
    _copy_to_valkey(task, point_id, progress, create=True)
    for series, start, end in plan:  # newest first, as planned
        if (series, start, end) in missing:
            enqueue_window(task.app, point_id, series, start, end, backfill=True, dedupe_seconds=CLAIM_SECONDS)
    return progress


# A run never outlives the task's hard time limit: past it, a claim whose run left no word is stale.
WINDOW_LEASE_SECONDS = TASK_TIME_LIMIT


@contextmanager
def fetching(task: ReleveTask, point_id: int, series: str, start: date, end: date) -> Iterator[bool]:
    """One run at a time per backfill window; yields False when the window is done already.

    The claim is a row lock in PostgreSQL taken in a short transaction before the upstream call, holding
    the message's id (`models.backfills.claim`). Another copy of the message (the recovery check enqueued
    one while the first waited out an outage) waits until this run ends, then finds the window done; the
    same message, run again after an outage kept this run from releasing it, takes it back at once.
    Valkey may restart and forget anything while a run is fetching: the claim does not go with it.
    """
    me = task.request.id or f"direct:{uuid4().hex}"
    with task.session() as session:
        state, wait = backfills.claim(session, point_id, series, start, end, me, _now(),
                                      timedelta(seconds=WINDOW_LEASE_SECONDS))
    if state == "busy":
        raise Throttled("backfill window being fetched by another run", min(30, max(1, wait)), upstream="releve")
    try:
        yield state != "done"
    finally:
        if state == "claimed":
            try:
                with task.session() as session:
                    backfills.release(session, point_id, series, start, end, me)
            except SQLAlchemyError:
                pass  # PostgreSQL went down: this message, run again, takes its claim back


def already_done(task: ReleveTask, point_id: int, series: str, start: date, end: date) -> bool:
    """Whether a backfill window is done: recorded in PostgreSQL, or in Valkey's done set (its readings
    were cached but recording it in PostgreSQL failed, or the previous release fetched it)."""
    with task.session() as session:
        if backfills.window_done(session, point_id, series, start, end):
            return True
    if not get_client(task.settings.valkey_url).sismember(progress_done_key(point_id),
                                                          progress_window(series, start, end)):
        return False
    record_done(task, point_id, series, start, end)
    return True


def note_cached(task: ReleveTask, point_id: int, series: str, start: date | str, end: date | str) -> None:
    """The window's readings are in the cache: say so in Valkey at once, so that a failure to record it in
    PostgreSQL costs no second upstream call (`already_done` reads this)."""
    client = get_client(task.settings.valkey_url)
    pipe = client.pipeline(transaction=False)
    pipe.sadd(progress_done_key(point_id), progress_window(series, start, end))
    pipe.expire(progress_done_key(point_id), VALKEY_COPY_SECONDS)
    pipe.execute()


def record_done(task: ReleveTask, point_id: int, series: str, start: date, end: date,
                session: Session | None = None) -> None:
    """Mark a window done in PostgreSQL (in `session`, or a transaction of its own), then Valkey's copy."""
    if session is None:
        with task.session() as own:
            record_done(task, point_id, series, start, end, own)
        return
    backfills.mark_done(session, point_id, series, start, end, _now())
    progress = backfills.progress_of(session, [point_id]).get(point_id)
    if progress is not None:
        after_commit(session, lambda: _copy_to_valkey(task, point_id, progress))


def read_progress(session: Session, valkey_url: str, point_id: int) -> dict[str, int]:
    """Backfill progress of a point for the pages: windows planned and done, from PostgreSQL; from
    Valkey for a backfill the previous release started; {} when none was planned yet."""
    progress = backfills.progress_of(session, [point_id]).get(point_id)
    if progress is not None:
        return progress.as_dict()
    raw = get_client(valkey_url).hgetall(progress_key(point_id))
    return {k.decode(): int(v) for k, v in raw.items()}


# -- the recovery check ----------------------------------------------------------------------------


def resume(task: ReleveTask, now: datetime | None = None) -> dict[str, Any]:
    """Take over the backfills that stopped (see the module's docstring); what it did, as JSON."""
    settings = task.settings
    now = now or _now()
    stall = timedelta(seconds=settings.backfill_stall_seconds)
    client = get_client(settings.valkey_url)
    with task.session() as session:
        candidates = backfills.unfinished(session)
        last_any = backfills.last_move(session)
        never_onboarded = _never_onboarded(session, now - stall)
    all_still = last_any is None or now - last_any > stall
    restarted = _valkey_restarted(client)
    # Enedis paused by a 429, or its hourly quota spent: the backfills wait for it, they are not stalled.
    throttled = all_still and bool(candidates) and task.services.enedis_limiter.blocked_for() > SHORT_WAIT
    report: dict[str, Any] = {"forgotten": [], "restarted": [], "stalled": [], "onboarded": []}
    for point_id, last_moved in candidates:
        if not client.exists(progress_key(point_id)):
            reason = "forgotten"
        elif restarted:
            reason = "restarted"
        elif now - last_moved > stall and all_still and not throttled:
            reason = "stalled"
        else:
            continue
        claimed = once(settings, resume_claim(point_id), max(1, int(settings.backfill_stall_seconds)))
        if not claimed and reason != "restarted":  # only this check saw the restart (GETSET)
            continue  # another check is on it
        count = _resume_one(task, point_id, reason, now)
        report[reason].append(point_id)
        log.warning("point %s: backfill %s; %d windows enqueued again", point_id, {
            "forgotten": "forgotten by Valkey", "restarted": "interrupted by a restart of Valkey",
            "stalled": f"still for {(now - last_moved).total_seconds():.0f} s"}[reason], count)
    for point_id in never_onboarded:
        if once(settings, resume_claim(point_id), max(1, int(settings.backfill_stall_seconds))):
            enqueue(task.app, tasks.ONBOARD, {"point_id": point_id})
            report["onboarded"].append(point_id)
            log.warning("point %s: never onboarded (its message was lost): onboarding it again", point_id)
    return report


def _valkey_restarted(client) -> bool:
    """Whether Valkey restarted (or failed over) since the last check: its run id changed. Messages a worker
    had taken from the queue when it went down may be lost (popped, not yet recorded as unacknowledged),
    or held until the visibility timeout: an unfinished backfill cannot wait for them."""
    run_id = str(client.info("server").get("run_id", ""))
    seen = client.getset(VALKEY_RUN_KEY, run_id)
    return seen is not None and seen.decode() != run_id


def _never_onboarded(session: Session, before: datetime) -> list[int]:
    """Active points of unknown kind with no backfill, added before `before` (their onboarding was lost)."""
    return list(session.scalars(select(UsagePoint.id).where(
        UsagePoint.status == "active", UsagePoint.kind == "unknown", UsagePoint.created_at < before,
        ~exists().where(Backfill.point_id == UsagePoint.id)).order_by(UsagePoint.id).limit(1000)))


def _resume_one(task: ReleveTask, point_id: int, reason: str, now: datetime) -> int:
    if reason in ("forgotten", "restarted"):
        # Forgotten: the readings went with Valkey. Restarted: on its append-only file, which may miss
        # the last writes before the crash (fsync every second).
        _forget_lost_readings(task, point_id)
    with task.session() as session:
        missing = backfills.missing_windows(session, point_id)
        progress = backfills.progress_of(session, [point_id])[point_id]
    _copy_to_valkey(task, point_id, progress, create=True)
    for series, start, end in missing:
        # Forgotten: the claims went with Valkey, a claim found now is a window just enqueued. Restarted or
        # stalled: the claims outlived their messages.
        enqueue_window(task.app, point_id, series, start, end, backfill=True, dedupe_seconds=CLAIM_SECONDS,
                       again=reason != "forgotten")
    with task.session() as session:
        backfills.record_resume(session, point_id, now)
    return len(missing)


def _forget_lost_readings(task: ReleveTask, point_id: int) -> None:
    """Valkey forgot the backfill, and with it the readings of the windows already done: those windows
    are not done any more (a window whose readings are all still cached stays done)."""
    with task.session() as session:
        point = session.get(UsagePoint, point_id)
        done = session.execute(select(backfills.BackfillWindow.series, backfills.BackfillWindow.start_day,
                                      backfills.BackfillWindow.end_day)
                               .where(backfills.BackfillWindow.point_id == point_id,
                                      backfills.BackfillWindow.done_at.is_not(None))).all()
        user_id = point.user_id if point is not None else None
    if user_id is None or not done:
        return
    cache: EncryptedCache = task.services.cache
    lost = []
    for series, start, end in done:
        read = cache.read_range(user_id, point_id, series, start, end)
        if any(day not in read.days for day in read.missing):
            lost.append((series, start, end))
    if lost:
        get_client(task.settings.valkey_url).srem(progress_done_key(point_id),
                                                  *(progress_window(*window) for window in lost))
        with task.session() as session:
            backfills.forget_done(session, point_id, lost)
        log.info("point %s: %d windows done before Valkey forgot them are fetched again", point_id, len(lost))
