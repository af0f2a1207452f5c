"""Enedis tasks: onboard a point, backfill its history, refresh it every morning.

No task holds a database session while it calls Enedis (or waits for the rate limiter): it
reads what it needs of the point in one short transaction (`load_point`), calls upstream
and writes the cache, then records what it learnt in another (`save_point`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from celery import Celery, shared_task
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models.calendar import PARIS, PUBLISHED_AT_HOUR, today_paris
from models.keys import ADDRESS, CONTRACT, contract_checked_claim, refresh_pass_claim, series_refreshed_claim
from models.offpeak_history import record_offpeak
from models.series import SERIES, series_for
from models.transfers import TransferRequest
from models.usage_points import UsagePoint
from pipeline import queues, tasks
from pipeline.backfill import (
    already_done, enqueue_window, fetching, note_cached, record_done, resume, start_backfill,
)
from pipeline.celery_app import enqueue
from pipeline.clients.base import (
    ConsentNeeded,
    HistoryExhausted,
    LoadCurveNotActivated,
    PermanentError,
    WrongPointKind,
)
from pipeline.series import fetch, group_by_day, history_start, plan_windows
from pipeline.tasks.base import ReleveTask, once

log = logging.getLogger(__name__)
REFRESH_DAYS = 3  # the morning refresh looks at D-3 … D-1 (D-1, D-2 may be partial)

__all__ = ["enqueue_window"]  # sent from here by the web app too (webapp/data.py)


@dataclass
class PointState:
    """What the tasks read and change of a point, detached from any session."""

    id: int
    user_id: int
    pdl: str
    kind: str
    load_curve_enabled: bool
    status: str
    status_reason: str
    activation_date: date | None
    last_refreshed_at: datetime | None

    @classmethod
    def of(cls, row: UsagePoint) -> PointState:
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})

    def changes_since(self, before: PointState) -> dict[str, Any]:
        return {name: value for name, value in dataclasses.asdict(self).items() if getattr(before, name) != value}


def load_point(task: ReleveTask, point_id: int) -> PointState | None:
    """The point if it is still there and fetched (None: the task has nothing to do), in a short transaction."""
    with task.session() as session:
        row = session.get(UsagePoint, point_id)
        if row is None:
            log.info("point %s no longer exists", point_id)  # deleted account or transferred PDL
            return None
        return PointState.of(row) if row.status == "active" else None


def save_point(task: ReleveTask, point: PointState, before: PointState, also=None) -> None:
    """Record what the task learnt of the point (its kind, consent, …) in a short transaction;
    `also(session)`, if given, runs in the same transaction."""
    changes = point.changes_since(before)
    if not changes and also is None:
        return
    with task.session() as session:
        if changes:
            row = session.get(UsagePoint, point.id, with_for_update=True)
            if row is None:
                log.info("point %s went away while it was fetched", point.id)
                return
            for name, value in changes.items():
                setattr(row, name, value)
            if changes.get("status") == "consent_needed":
                _hand_over(task.app, session, row)
        if also is not None:
            also(session)


def mark_consent_needed(point: PointState, code: str) -> None:
    """Enedis refused for want of consent (ADAM-DC-0007/0008): nothing is fetched for the point
    until its holder renews (see `_hand_over` for a transfer request waiting for that)."""
    point.status, point.status_reason = "consent_needed", code


def _hand_over(celery: Celery, session: Session, point: UsagePoint) -> None:
    """The point needs a new consent: a transfer request waiting for that is sent on once this commits."""
    if not session.scalar(select(exists().where(TransferRequest.pdl == point.pdl,
                                                TransferRequest.status == "pending"))):
        return
    point_id = point.id
    # After the commit, or the task could still see the point active.
    enqueue(celery, tasks.HOLDER_CONSENT_GONE, {"pdl": point.pdl}, session=session, on_error=lambda exc: log.error(
        "point %s: transfer check not enqueued (%s); `releve transfers list` shows it", point_id, exc))


# -- fetching one window into the cache ----------------------------------------------------


def fetch_into_cache(task: ReleveTask, point: PointState, series_name: str, start: date, end: date) -> dict[str, Any]:
    """Fetch [start, end) of one series into the cache; change `point` (for `save_point`) on permanent errors.

    Returns a small JSON summary. Throttled/Unavailable propagate: the task's retry policy reschedules it.
    """
    series = SERIES[series_name]
    svc = task.services
    today = today_paris()
    end = min(end, today)  # Enedis refuses an end after today
    if start >= end:
        return {"status": "empty-window"}
    if series.load_curve and not point.load_curve_enabled:
        return {"status": "no-load-curve"}
    first = svc.cache.history_start(point.user_id, point.id, series_name)
    if first is not None and end <= first:
        return {"status": "before-history", "first_day": first.isoformat()}  # known: not asked again
    start = max(start, first) if first is not None else start
    try:
        items = fetch(series, svc.enedis, point.pdl, start, end)
    except HistoryExhausted as exc:
        return _search_history(task, point, series_name, start, end, exc)
    except ConsentNeeded as exc:
        mark_consent_needed(point, exc.code)
        log.warning("point %s: consent needed (%s)", point.id, exc.code)
        return {"status": "consent-needed", "code": exc.code}
    except WrongPointKind:
        wrong = series.kind
        point.kind = "production" if wrong == "consumption" else "consumption"
        log.info("point %s is a %s point", point.id, point.kind)
        return {"status": "wrong-kind", "kind": point.kind}
    except LoadCurveNotActivated:
        point.load_curve_enabled = False
        return {"status": "no-load-curve"}
    except PermanentError as exc:
        log.error("point %s %s %s..%s: permanent error %s", point.id, series_name, start, end, exc.code)
        return {"status": "permanent-error", "code": exc.code}
    if point.kind == "unknown":
        point.kind = series.kind
    days, complete = group_by_day(series, items, start, end, today)
    svc.cache.put_days(point.user_id, point.id, series_name, days, complete)
    point.last_refreshed_at = datetime.now(UTC)
    return {"status": "ok", "days": len(days), "final": sum(complete.values())}


def _search_history(task, point, series_name, start, end, exc) -> dict[str, Any]:
    """The window reaches before what Enedis keeps: find the first day it serves.

    One call tells whether the window's newest day is served; if not, the whole window is
    before history. Otherwise a binary search over single days (~log2(365) calls) finds the
    first one. The answer is cached, so older windows are never asked.
    """
    series = SERIES[series_name]
    cache = task.services.cache

    def served(day: date) -> bool:
        try:
            fetch(series, task.services.enedis, point.pdl, day, day + timedelta(days=1))
            return True
        except HistoryExhausted:
            return False

    def history_starts(first: date) -> None:
        known = cache.history_start(point.user_id, point.id, series_name)
        if known is None or first > known:  # another window may have found a later bound
            cache.set_history_start(point.user_id, point.id, series_name, first)

    last = end - timedelta(days=1)
    if last <= start or not served(last):
        history_starts(end)
        return {"status": "history-ends", "first_day": end.isoformat(), "code": exc.code}
    not_served, first = start, last
    while (first - not_served).days > 1:
        middle = not_served + (first - not_served) // 2
        if served(middle):
            first = middle
        else:
            not_served = middle
    history_starts(first)
    log.info("point %s %s: history starts %s (%s)", point.id, series_name, first, exc.code)
    return fetch_into_cache(task, point, series_name, first, end) | {"history_start": first.isoformat()}


@shared_task(bind=True, base=ReleveTask, name=tasks.FETCH_WINDOW)
def fetch_window(self: ReleveTask, point_id: int, series: str, start: str, end: str,
                 backfill: bool = False) -> dict[str, Any]:
    """Fetch one window of one series of a point into the cache (idempotent).

    A backfill window already done is not fetched again (the recovery check may have enqueued a
    second copy of its message); once fetched, it is recorded done (pipeline/backfill.py).
    """
    first, stop = date.fromisoformat(start), date.fromisoformat(end)
    if not backfill:
        point = load_point(self, point_id)
        if point is None:
            return {"status": "skipped"}
        before = dataclasses.replace(point)
        result = fetch_into_cache(self, point, series, first, stop)
        save_point(self, point, before)
        return result
    with fetching(self, point_id, series, first, stop) as to_do:
        if not to_do or already_done(self, point_id, series, first, stop):
            return {"status": "already-done"}
        point = load_point(self, point_id)
        if point is None:
            return {"status": "skipped"}
        before = dataclasses.replace(point)
        result = fetch_into_cache(self, point, series, first, stop)
        if set(point.changes_since(before)) <= {"last_refreshed_at"}:
            note_cached(self, point_id, series, first, stop)  # a PostgreSQL failure below costs no second call
        save_point(self, point, before,
                   also=lambda session: record_done(self, point_id, series, first, stop, session))
    return result


# -- the contract ---------------------------------------------------------------------------------


def learn_contract(task: ReleveTask, point: PointState, contract: dict[str, Any]) -> None:
    """Cache a contract just fetched, and keep its off-peak hours' history in PostgreSQL (first seen today)."""
    task.services.cache.put(point.user_id, CONTRACT, contract, point=point.id)
    if contract.get("last_activation_date"):
        point.activation_date = date.fromisoformat(contract["last_activation_date"])
    with task.session() as session:  # short: no upstream call inside
        if record_offpeak(session, point.id, contract.get("offpeak_hours"), today_paris()):
            log.info("point %s: off-peak hours recorded", point.id)


CONTRACT_CHECK_SECONDS = 7 * 86400  # a used point's contract is read again once a week


def refresh_contract(task: ReleveTask, point: PointState) -> dict[str, Any]:
    """Fetch the contract again when it is not cached, and at least once a week (`CONTRACT_CHECK_SECONDS`;
    meanwhile the refresh of a used point keeps the cached copy alive, as its owner's reads do): a change of off-peak hours (Enedis moved some to
    11–17 h from November 2025) starts a new row of the point's history."""
    if point.kind != "consumption":
        return {"status": "cached"}
    cache = task.services.cache
    cached = cache.get(point.user_id, CONTRACT, point=point.id) is not None
    if not once(task.settings, contract_checked_claim(point.id), CONTRACT_CHECK_SECONDS) and cached:
        cache.touch(point.user_id, CONTRACT, point=point.id)  # a used point keeps its contract until the next check
        return {"status": "cached"}
    try:
        learn_contract(task, point, task.services.enedis.contract(point.pdl))
    except ConsentNeeded as exc:
        mark_consent_needed(point, exc.code)
        return {"status": "consent-needed", "code": exc.code}
    except PermanentError as exc:
        log.info("point %s: no contract (%s)", point.id, exc.code)
        return {"status": "permanent-error", "code": exc.code}
    return {"status": "ok"}


@shared_task(bind=True, base=ReleveTask, name=tasks.FETCH_CUSTOMER)
def fetch_customer(self: ReleveTask, point_id: int) -> dict[str, Any]:
    """Fetch a consumption point's contract and address, whichever is not cached (an API read missed them)."""
    point = load_point(self, point_id)
    if point is None:
        return {"status": "skipped"}
    before, svc = dataclasses.replace(point), self.services
    result = {"contract": refresh_contract(self, point)}
    if point.status == "active" and point.kind == "consumption" \
            and svc.cache.get(point.user_id, ADDRESS, point=point.id) is None:
        try:
            svc.cache.put(point.user_id, ADDRESS, svc.enedis.address(point.pdl), point=point.id)
            result["address"] = {"status": "ok"}
        except ConsentNeeded as exc:
            mark_consent_needed(point, exc.code)
            result["address"] = {"status": "consent-needed", "code": exc.code}
        except PermanentError as exc:
            result["address"] = {"status": "permanent-error", "code": exc.code}
    save_point(self, point, before)
    return result


# -- onboarding and backfill ----------------------------------------------------------------


@shared_task(bind=True, base=ReleveTask, name=tasks.ONBOARD)
def onboard(self: ReleveTask, point_id: int) -> dict[str, Any]:
    """After consent: contract and address, the point's kind, then its history at backfill priority."""
    point = load_point(self, point_id)
    if point is None:
        return {"status": "skipped"}
    before = dataclasses.replace(point)
    result, plan = _discover(self, point)
    save_point(self, point, before)
    if plan is None:
        return result
    start_backfill(self, point_id, plan)
    return result


def _discover(task: ReleveTask, point: PointState) -> tuple[dict[str, Any], list | None]:
    """What onboarding learns of a point (kind, contract, address, load curve), and its backfill plan."""
    svc = task.services
    today = today_paris()
    # A week of daily consumption tells the kind (ERR0069 on a production point) and fills the page.
    probe = fetch_into_cache(task, point, "daily_consumption", today - timedelta(days=7), today)
    if point.status != "active":
        return probe, None
    if point.kind == "consumption":
        try:
            learn_contract(task, point, svc.enedis.contract(point.pdl))
            svc.cache.put(point.user_id, ADDRESS, svc.enedis.address(point.pdl), point=point.id)
        except ConsentNeeded as exc:
            mark_consent_needed(point, exc.code)
            return {"status": "consent-needed"}, None
        except PermanentError as exc:  # customer data exists for consumption points only
            log.info("point %s: no customer data (%s)", point.id, exc.code)
    if point.kind == "consumption" and point.load_curve_enabled:
        # One day of load curve tells whether it is collected (ERR0075), before planning 100 windows.
        fetch_into_cache(task, point, "load_curve", today - timedelta(days=2), today - timedelta(days=1))
    plan = plan_backfill(point, today)
    return {"status": "ok", "kind": point.kind, "windows": len(plan)}, plan


def plan_backfill(point: PointState, today: date) -> list[tuple[str, date, date]]:
    """Every window of every series of the point, newest first across series."""
    plan = []
    for series in series_for(point.kind, point.load_curve_enabled):
        first = history_start(series, today, point.activation_date)
        plan += [(series.name, s, e) for s, e in plan_windows(series, first, today)]
    return sorted(plan, key=lambda w: w[2], reverse=True)


@shared_task(bind=True, base=ReleveTask, name=tasks.RESUME_BACKFILLS, ignore_result=True)
def resume_backfills(self: ReleveTask) -> dict[str, Any]:
    """The recovery check (beat): backfills that stopped moving, or that Valkey forgot, go on."""
    return resume(self)


# -- the morning refresh ------------------------------------------------------------------------


@shared_task(bind=True, base=ReleveTask, name=tasks.REFRESH_POINT)
def refresh_point(self: ReleveTask, point_id: int) -> dict[str, Any]:
    """Fetch what a used point's recent days (D-3 … D-1) still need: one call per series and per day.

    A day never cached (D-1 not published at the previous pass, or expired) is fetched at every pass
    until it is there; days cached but not final yet (D-1, D-2: Enedis may still correct them) are
    fetched again once a day, by the first pass that finds them. So once Enedis has published, a
    point costs one call per series a day (three for a consumption meter with its load curve), and
    the contract one call a week (`refresh_contract`)."""
    point = load_point(self, point_id)
    if point is None:
        return {"status": "skipped"}
    before, svc, results = dataclasses.replace(point), self.services, {}
    today = today_paris()
    start = today - timedelta(days=REFRESH_DAYS)
    for series in series_for(point.kind, point.load_curve_enabled):
        # renew=False: the pipeline's own read keeps nothing alive (only the owner's reads do).
        read = svc.cache.read_range(point.user_id, point.id, series.name, start, today, renew=False)
        absent = sorted(set(read.missing) - set(read.partial))
        # The claim is taken by any fetch of the day, so the not-final days are fetched once a day.
        first_today = once(self.settings, series_refreshed_claim(point.id, series.name, today), 86400)
        days = read.missing if absent or (read.partial and first_today) else []
        if days:
            results[series.name] = fetch_into_cache(self, point, series.name, min(days),
                                                    max(days) + timedelta(days=1))
            if point.status != "active":
                break
    if point.status == "active":
        results["contract"] = refresh_contract(self, point)
    save_point(self, point, before)
    return results


@shared_task(bind=True, base=ReleveTask, name=tasks.REFRESH_ALL)
def refresh_all(self: ReleveTask, now: str | None = None) -> int:
    """Enqueue a refresh of every used active point (and the onboarding of any never onboarded), once per
    publication pass (beat calls it)."""
    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    local = moment.astimezone(PARIS)
    if local.hour < PUBLISHED_AT_HOUR:
        return 0  # yesterday is not published yet
    if not once(self.settings, refresh_pass_claim(local.date(), local.hour), 3 * 3600):
        return 0
    with self.session() as session:
        # Ids only, in one pass: the limiter, not the broker, sets the pace of the fetches.
        rows = session.execute(select(UsagePoint.id, UsagePoint.kind).where(UsagePoint.status == "active")
                               .order_by(UsagePoint.id)).all()
    # Only the points their owner read within the cache's lifetime (page or API): the others cost
    # nothing until their owner comes back, and then their pages fetch what they miss.
    used = self.services.cache.used_points()
    sent = 0
    for point_id, kind in rows:
        # A point still of unknown kind was never onboarded (the broker was down at consent,
        # or onboarding gave up): this pass onboards it instead, on the refresh queue.
        if kind == "unknown":
            enqueue(self.app, tasks.ONBOARD, {"point_id": point_id}, queue=queues.REFRESH)
        elif point_id in used:
            enqueue(self.app, tasks.REFRESH_POINT, {"point_id": point_id})
        else:
            continue
        sent += 1
    log.info("refresh pass %s: %d of %d active points (the others unused)", local.strftime("%Y-%m-%d %H:%M"),
             sent, len(rows))
    return sent
