"""Durable backfills (pipeline/backfill.py, models/backfills.py): the plan and what is done live in
PostgreSQL; the recovery check takes over what stopped or what Valkey forgot, never what finished.

Real PostgreSQL (committed rows: tasks open their own transactions) and a real Valkey (the broker of
these tests: queued messages are read back from its lists). No worker runs here: the functions are
called as a worker would call them, with a task of the test's app.
"""

from __future__ import annotations

import base64
import json
import random
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from models import backfills
from models.backfills import Backfill, BackfillWindow
from models.cache import EncryptedCache
from models.db import session_scope
from models.keys import VALKEY_RUN_KEY, fetch_claim, once_key, progress_done_key, progress_key
from models.usage_points import UsagePoint
from models.users import User
from pipeline import queues, tasks
from pipeline.backfill import (
    WINDOW_LEASE_SECONDS, already_done, fetching, read_progress, record_done, resume, start_backfill,
)
from pipeline.clients.base import Throttled

PLAN = [("daily_consumption", date(2025, 11, 25), date(2026, 11, 25)),
        ("max_power", date(2025, 11, 25), date(2026, 11, 25)),
        ("daily_consumption", date(2024, 11, 25), date(2025, 11, 25))]


@pytest.fixture
def make_point(database_url):
    """A committed user and point (tasks read them from their own connections); removed after."""
    users = []

    def make(kind: str = "consumption", status: str = "active", created_at: datetime | None = None) -> UsagePoint:
        with session_scope(database_url) as s:
            user = User(email=f"backfill-{random.getrandbits(40):x}@example.org", password_hash="-")
            s.add(user)
            s.flush()
            users.append(user.id)
            point = UsagePoint(pdl=f"97{random.randrange(10**12):012d}", user_id=user.id, kind=kind, status=status)
            if created_at is not None:
                point.created_at = created_at
            s.add(point)
            s.flush()
            s.expunge(point)
            return point

    yield make
    with session_scope(database_url) as s:
        s.execute(delete(User).where(User.id.in_(users)))


@pytest.fixture
def task(celery_app, settings):
    """A task of the test's app: what the functions receive in a worker."""
    return celery_app.tasks[tasks.RESUME_BACKFILLS]


def queued(valkey, queue: str = queues.BACKFILL) -> list[tuple]:
    out = []
    for raw in valkey.lrange(queue, 0, -1):
        message = json.loads(raw)
        kwargs = json.loads(base64.b64decode(message["body"]))[1]
        out.append((message["headers"]["task"], kwargs.get("point_id"), kwargs.get("series"), kwargs.get("start")))
    return out


def row(database_url, point_id: int) -> Backfill:
    with session_scope(database_url) as s:
        found = s.get(Backfill, point_id)
        s.expunge(found)
        return found


def test_a_second_onboarding_keeps_the_count_and_enqueues_nothing_twice(task, make_point, valkey, database_url,
                                                                       settings):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    with session_scope(database_url) as s:
        assert read_progress(s, settings.valkey_url, point.id) == {"total": 3, "done": 0}
    assert len(queued(valkey)) == 3
    record_done(task, point.id, *PLAN[0])
    record_done(task, point.id, *PLAN[0])  # the same window twice counts once
    record_done(task, point.id, *PLAN[1])
    start_backfill(task, point.id, PLAN)  # redelivered onboarding
    with session_scope(database_url) as s:
        assert read_progress(s, settings.valkey_url, point.id) == {"total": 3, "done": 2}
    assert len(queued(valkey)) == 3
    assert valkey.hgetall(progress_key(point.id)) == {b"total": b"3", b"done": b"2"}  # the copy for older pages


def test_the_last_window_finishes_the_backfill_and_a_done_window_is_not_fetched_again(task, make_point, database_url):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    for window in PLAN:
        assert not already_done(task, point.id, *window)
        record_done(task, point.id, *window)
        assert already_done(task, point.id, *window)
    finished = row(database_url, point.id)
    assert (finished.done, finished.total) == (3, 3) and finished.finished_at is not None


def test_a_window_cached_but_not_recorded_counts_as_done_without_a_second_call(task, make_point, valkey,
                                                                              database_url):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    valkey.sadd(progress_done_key(point.id), "max_power:2025-11-25:2026-11-25")  # what note_cached wrote
    assert already_done(task, point.id, *PLAN[1])
    assert row(database_url, point.id).done == 1  # and now PostgreSQL knows


def test_a_message_of_a_done_window_runs_without_calling_upstream(celery_app, make_point, valkey, settings):
    point = make_point()
    task = celery_app.tasks[tasks.FETCH_WINDOW]
    start_backfill(task, point.id, PLAN)
    record_done(task, point.id, *PLAN[0])
    # The sandbox is not running: a call upstream would fail; a done window makes none.
    result = task(point_id=point.id, series=PLAN[0][0], start=PLAN[0][1].isoformat(), end=PLAN[0][2].isoformat(),
                  backfill=True)
    assert result == {"status": "already-done"}


def test_the_check_resumes_what_valkey_forgot_refetching_only_lost_readings(task, make_point, valkey, database_url,
                                                                            settings):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    cache = EncryptedCache.from_settings(valkey, settings)
    kept, lost = PLAN[1], PLAN[2]
    for series, start, end in (kept, lost):
        record_done(task, point.id, series, start, end)
    valkey.flushdb()  # Valkey restarted empty: queue, claims, progress copy and readings gone
    series, start, end = kept
    days = {start + timedelta(days=i): {"va": 1} for i in range((end - start).days)}
    cache.put_days(point.user_id, point.id, series, days)  # this window's readings are still there
    report = resume(task)
    assert report["forgotten"] == [point.id]
    assert sorted(w[2] for w in queued(valkey)) == sorted([PLAN[0][0], lost[0]])  # never the kept window
    with session_scope(database_url) as s:
        assert read_progress(s, settings.valkey_url, point.id) == {"total": 3, "done": 1}
    assert valkey.exists(progress_key(point.id))
    assert resume(task)["forgotten"] == []  # once is enough


def test_the_check_resumes_a_stalled_backfill_only_when_nothing_moves(task, make_point, valkey, database_url,
                                                                      settings):
    stalled, moving = make_point(), make_point()
    start_backfill(task, stalled.id, PLAN)
    start_backfill(task, moving.id, PLAN)
    valkey.delete(queues.BACKFILL)  # their messages were lost (the claims were not)
    later = datetime.now(UTC) + timedelta(seconds=settings.backfill_stall_seconds + 5)
    record_done(task, moving.id, *PLAN[0])  # another backfill moves: the still one may be queued behind it
    with session_scope(database_url) as s:
        s.execute(update(Backfill).where(Backfill.point_id == moving.id).values(moved_at=later))
    assert resume(task, now=later)["stalled"] == []
    later = later + timedelta(seconds=settings.backfill_stall_seconds + 5)  # now nothing has moved for long
    report = resume(task, now=later)
    assert sorted(report["stalled"]) == sorted([stalled.id, moving.id])
    assert len([w for w in queued(valkey) if w[1] == stalled.id]) == 3  # whatever the claims said
    assert valkey.exists(once_key(fetch_claim(stalled.id, *PLAN[0])))
    assert row(database_url, stalled.id).resumes == 1


def test_a_finished_backfill_is_never_started_over(task, make_point, valkey, settings):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    for window in PLAN:
        record_done(task, point.id, *window)
    valkey.flushdb()  # its readings expired, or Valkey restarted empty
    later = datetime.now(UTC) + timedelta(days=30)
    assert resume(task, now=later) == {"forgotten": [], "restarted": [], "stalled": [], "onboarded": []}
    assert queued(valkey) == [] and queued(valkey, queues.INTERACTIVE) == []


def test_a_point_never_onboarded_is_onboarded_by_the_check(task, make_point, valkey, settings):
    old = datetime.now(UTC) - timedelta(seconds=settings.backfill_stall_seconds + 60)
    lost, fresh, paused = make_point("unknown", created_at=old), make_point("unknown"), make_point(
        "unknown", status="consent_needed", created_at=old)
    report = resume(task)
    assert report["onboarded"] == [lost.id]
    assert [(name, pid) for name, pid, *_ in queued(valkey, queues.INTERACTIVE)] == [(tasks.ONBOARD, lost.id)]
    assert fresh.id not in report["onboarded"] and paused.id not in report["onboarded"]


def test_a_new_plan_keeps_what_is_done_and_drops_what_it_no_longer_has(make_point, database_url):
    point = make_point()
    now = datetime.now(UTC)
    with session_scope(database_url) as session:
        backfills.record_plan(session, point.id, PLAN, now)
        backfills.mark_done(session, point.id, *PLAN[0], now)
        backfills.mark_done(session, point.id, *PLAN[2], now)
        progress = backfills.record_plan(session, point.id, PLAN[:2] + [("max_power", date(2024, 11, 25),
                                                                          date(2025, 11, 25))], now)
        assert (progress.total, progress.done, progress.finished) == (3, 1, False)
        assert session.scalar(select(func.count()).select_from(backfills.BackfillWindow)
                              .where(backfills.BackfillWindow.point_id == point.id)) == 3


def test_after_valkey_restarted_on_its_data_every_unfinished_backfill_is_enqueued_again(task, make_point, valkey):
    point, finished = make_point(), make_point()
    start_backfill(task, point.id, PLAN)
    start_backfill(task, finished.id, PLAN[:1])
    record_done(task, finished.id, *PLAN[0])
    assert resume(task)["restarted"] == []  # the check notes Valkey's run id
    valkey.set(VALKEY_RUN_KEY, "the-run-before")  # as if Valkey had restarted since (on its append-only file)
    valkey.delete(queues.BACKFILL)  # a message taken from the queue when it went down is lost
    report = resume(task)
    assert report["restarted"] == [point.id]  # not the finished one
    assert sorted(w[2] for w in queued(valkey)) == sorted(w[0] for w in PLAN)  # whatever the claims said
    assert resume(task)["restarted"] == []  # once per restart


def test_a_stalled_backfill_is_left_alone_while_enedis_pauses_every_worker(task, make_point, valkey, settings):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    task.services.enedis_limiter.block(600)  # a 429 announced ten minutes
    later = datetime.now(UTC) + timedelta(seconds=settings.backfill_stall_seconds + 5)
    assert resume(task, now=later)["stalled"] == []
    task.services.enedis_limiter.reset()
    assert resume(task, now=later)["stalled"] == [point.id]


def test_a_window_done_after_valkey_forgot_does_not_hide_the_loss(task, make_point, valkey, settings):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    record_done(task, point.id, *PLAN[0])
    valkey.flushdb()  # Valkey restarted empty
    series, start, end = PLAN[1]  # a run that was under way ends after it: its readings are in the new Valkey
    EncryptedCache.from_settings(valkey, settings).put_days(
        point.user_id, point.id, series, {start + timedelta(days=i): {"va": 1} for i in range((end - start).days)})
    record_done(task, point.id, series, start, end)
    assert not valkey.exists(progress_key(point.id))
    report = resume(task)
    assert report["forgotten"] == [point.id]
    assert {w[2:4] for w in queued(valkey)} == {(PLAN[0][0], PLAN[0][1].isoformat()),
                                                (PLAN[2][0], PLAN[2][1].isoformat())}  # PLAN[0]'s readings went


@contextmanager
def run_of(task, message_id: str):
    """`task` as run by the message `message_id` (what `fetching` claims the window for)."""
    task.push_request(id=message_id)
    try:
        yield
    finally:
        task.pop_request()


def test_a_window_is_fetched_by_one_run_at_a_time_whatever_valkey_forgets(task, make_point, valkey, database_url):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    window = PLAN[0]
    with run_of(task, "first"), fetching(task, point.id, *window) as to_do:
        assert to_do
        valkey.flushdb()  # Valkey restarted empty while the first run calls upstream
        with run_of(task, "copy"), pytest.raises(Throttled) as waiting:
            with fetching(task, point.id, *window):
                pytest.fail("a second run entered a window being fetched")
        assert 1 <= waiting.value.retry_after <= 30
        with run_of(task, "first"), fetching(task, point.id, *window) as again:  # the same message, run again
            assert again
    with run_of(task, "copy"), fetching(task, point.id, *window) as to_do:  # released: the copy may go
        assert to_do
    record_done(task, point.id, *window)
    with run_of(task, "late copy"), fetching(task, point.id, *window) as to_do:
        assert not to_do


def test_a_claim_left_by_a_run_that_died_lapses_after_the_hard_time_limit(task, make_point, database_url):
    point = make_point()
    start_backfill(task, point.id, PLAN)
    series, start, end = PLAN[1]
    with session_scope(database_url) as s:  # a run claimed it, then its worker died without a word
        s.execute(update(BackfillWindow).where(BackfillWindow.point_id == point.id, BackfillWindow.series == series,
                                               BackfillWindow.start_day == start).values(
            fetching_by="dead", fetching_since=datetime.now(UTC) - timedelta(seconds=WINDOW_LEASE_SECONDS - 60)))
    with run_of(task, "copy"), pytest.raises(Throttled):
        with fetching(task, point.id, series, start, end):
            pass
    with session_scope(database_url) as s:
        s.execute(update(BackfillWindow).where(BackfillWindow.point_id == point.id, BackfillWindow.series == series,
                                               BackfillWindow.start_day == start).values(
            fetching_since=datetime.now(UTC) - timedelta(seconds=WINDOW_LEASE_SECONDS + 1)))
    with run_of(task, "copy"), fetching(task, point.id, series, start, end) as to_do:
        assert to_do
