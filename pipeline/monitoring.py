"""What the admin dashboard shows of the gateway at work, read from what the pipeline records.

PostgreSQL: accounts, meters by status, pending transfers, how fresh RTE's data is.
Valkey: the limiter's grants and 429s (counted per Paris day by `RateLimiter`, and its
sliding-hour log), failed tasks (`maintenance.record_failure`), heartbeats of beat and the
workers, each point's backfill progress. The broker: how many messages wait in each queue.

Reading is cheap and bounded (one pipelined round trip per 500 points for the backfills), and
never raises for a store that is down: its part says "unavailable" (`None`) with the reason.
Nothing here reads a household's readings.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kombu import Connection
from kombu.exceptions import ChannelError, KombuError, OperationalError
from redis import RedisError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.calendar import today_paris
from models.ecowatt import EcoWattSignal
from models.keys import (
    BEAT_HEARTBEAT_KEY, TASK_FAILURES_KEY, WORKERS_HEARTBEAT_KEY, count_key, progress_key, ratelimit_key,
)
from models.national_consumption import NationalConsumption
from models.settings import Settings
from models.tempo import TempoDay
from models.transfers import TransferRequest
from models.usage_points import UsagePoint
from models.users import User
from models.valkey import get_quick_client
from pipeline import queues
from pipeline.services import enedis_limiter

log = logging.getLogger(__name__)

ACTIVE_WINDOW = timedelta(days=7)  # "active this week": signed in within this
BACKFILLS_SHOWN = 20
BATCH = 500
UPSTREAMS = ("enedis", "rte", "ecowatt")  # the limiters' names


@dataclass
class Part:
    """One part of the dashboard: its values, or why they could not be read."""

    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _guarded(fn, *args) -> Part:
    try:
        return Part(fn(*args))
    except (RedisError, KombuError, OperationalError, OSError) as exc:
        return Part(error=f"{type(exc).__name__}: {exc}"[:200])


def accounts(session: Session, now: datetime) -> dict[str, Any]:
    total, disabled, week = session.execute(select(
        func.count(), func.count().filter(User.is_active.is_(False)),
        func.count().filter(User.last_login_at >= now - ACTIVE_WINDOW))).one()
    return {"total": total, "disabled": disabled, "active_week": week}


def points(session: Session) -> dict[str, Any]:
    by_status = dict(session.execute(select(UsagePoint.status, func.count()).group_by(UsagePoint.status)).all())
    unknown = session.scalar(select(func.count()).where(UsagePoint.kind == "unknown")) or 0
    transfers = session.scalar(select(func.count()).select_from(TransferRequest)
                               .where(TransferRequest.status == "pending")) or 0
    return {"by_status": by_status, "total": sum(by_status.values()), "never_onboarded": unknown,
            "pending_transfers": transfers}


def rte_freshness(session: Session, now: datetime) -> dict[str, Any]:
    today = today_paris(now)
    tempo_fetched, tempo_last = session.execute(select(func.max(TempoDay.fetched_at), func.max(TempoDay.day))).one()
    tomorrow = session.scalar(select(TempoDay.colour).where(TempoDay.day == today + timedelta(days=1)))
    corrected = session.scalar(select(func.count()).where(TempoDay.manual_colour.is_not(None))) or 0
    ecowatt_fetched, ecowatt_last = session.execute(select(func.max(EcoWattSignal.fetched_at),
                                                           func.max(EcoWattSignal.day))).one()
    consumption = session.scalar(select(func.max(NationalConsumption.updated_at)))
    return {"tempo_fetched_at": tempo_fetched, "tempo_last_day": tempo_last, "tempo_tomorrow": tomorrow,
            "tempo_corrected": corrected, "ecowatt_fetched_at": ecowatt_fetched, "ecowatt_last_day": ecowatt_last,
            "consumption_updated_at": consumption}


def upstream_calls(settings: Settings) -> dict[str, Any]:
    client = get_quick_client(settings.valkey_url, timeout=settings.health_timeout_seconds)
    today = today_paris()
    pipe = client.pipeline()
    for name in UPSTREAMS:
        pipe.get(count_key(name, "calls", today))
        pipe.get(count_key(name, "429", today))
    pipe.get(ratelimit_key("enedis", "blocked"))
    pipe.time()
    *counts, blocked, (seconds, micros) = pipe.execute()
    now_ms = seconds * 1000 + micros // 1000
    per_upstream = {name: {"calls_today": int(counts[2 * i] or 0), "throttled_today": int(counts[2 * i + 1] or 0)}
                    for i, name in enumerate(UPSTREAMS)}
    paused = max(0.0, (int(blocked) - now_ms) / 1000) if blocked else 0.0
    return {"upstreams": per_upstream, "enedis_last_hour": enedis_limiter(client, settings).calls_last_hour(),
            "enedis_per_hour": settings.enedis_rate_per_hour, "enedis_per_second": settings.enedis_rate_per_second,
            "enedis_paused_for": paused}


def queue_depths(settings: Settings) -> dict[str, Any]:
    """Messages waiting in each declared queue (not those a worker holds)."""
    timeout = settings.health_timeout_seconds
    depths = {}
    with Connection(settings.celery_broker_url, connect_timeout=timeout,
                    transport_options={"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                       "max_retries": 1}) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        for name in queues.ALL:
            channel = conn.channel()
            try:
                depths[name] = channel.queue_declare(name, passive=True).message_count
            except ChannelError:  # nothing was ever sent to it (or all of it was taken)
                depths[name] = 0
            finally:
                channel.close()
    return {"queues": depths, "total": sum(depths.values())}


def processes(settings: Settings) -> dict[str, Any]:
    client = get_quick_client(settings.valkey_url, timeout=settings.health_timeout_seconds)
    now = time.time()
    pipe = client.pipeline()
    pipe.get(BEAT_HEARTBEAT_KEY)
    pipe.zrange(WORKERS_HEARTBEAT_KEY, 0, -1, withscores=True)
    pipe.get(count_key("tasks", "failed", today_paris()))
    pipe.lrange(TASK_FAILURES_KEY, 0, 9)
    beat, workers, failed, last = pipe.execute()
    failures = []
    for raw in last:
        try:
            item = json.loads(raw)
            failures.append({"at": datetime.fromtimestamp(float(item["at"]), UTC), "task": str(item["task"])[:100],
                             "error": str(item["error"])[:100]})
        except (ValueError, KeyError, TypeError):
            continue
    return {"beat_age": None if beat is None else max(0.0, now - float(beat)),
            "workers": sorted(((node.decode(), max(0.0, now - score)) for node, score in workers), key=lambda w: w[0]),
            "failed_today": int(failed or 0), "last_failures": failures}


def progress_of(settings: Settings, point_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(done, total) of each point's backfill that has a plan, in pipelined batches."""
    client = get_quick_client(settings.valkey_url, timeout=settings.health_timeout_seconds)
    found = {}
    for i in range(0, len(point_ids), BATCH):
        batch = point_ids[i:i + BATCH]
        pipe = client.pipeline()
        for point_id in batch:
            pipe.hmget(progress_key(point_id), "total", "done")
        for point_id, (total, done) in zip(batch, pipe.execute()):
            if total is not None:
                found[point_id] = (int(done or 0), int(total))
    return found


def backfills(session: Session, settings: Settings) -> dict[str, Any]:
    """Points whose history is still being fetched (progress planned, not all done)."""
    rows = session.execute(select(UsagePoint.id, UsagePoint.pdl).where(UsagePoint.status == "active")
                           .order_by(UsagePoint.id)).all()
    progress = progress_of(settings, [point_id for point_id, _ in rows])
    running = [{"point_id": point_id, "pdl": pdl, "done": progress[point_id][0], "total": progress[point_id][1],
                "percent": progress[point_id][0] * 100 // progress[point_id][1] if progress[point_id][1] else 100}
               for point_id, pdl in rows if point_id in progress and progress[point_id][0] < progress[point_id][1]]
    return {"in_progress": len(running), "shown": running[:BACKFILLS_SHOWN]}


def collect(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, Part]:
    """Every part of the dashboard; a store that is down spoils only its own parts."""
    now = now or datetime.now(UTC)
    return {
        "accounts": Part(accounts(session, now)),
        "points": Part(points(session)),
        "rte": Part(rte_freshness(session, now)),
        "calls": _guarded(upstream_calls, settings),
        "queues": _guarded(queue_depths, settings),
        "processes": _guarded(processes, settings),
        "backfills": _guarded(backfills, session, settings),
    }
