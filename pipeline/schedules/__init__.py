"""Beat: every periodic task of the gateway, declared in one place (Europe/Paris).

No daily entry sits between 02:00 and 03:00, where daylight-saving changes skip or
repeat wall-clock times; frequent entries may lose or repeat one tick there, which is
harmless because each task computes its own target period from an aware "now" and
dedupes on it. `expires` keeps missed runs
from piling up while workers are down. Queues come from the routes (`pipeline/queues.py`).
"""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab

from models.settings import Settings
from pipeline import tasks


def schedule(nowfun=None, settings: Settings | None = None) -> dict[str, dict]:
    """The beat schedule (the recovery checks' period from `settings`); `nowfun` lets tests evaluate
    crontabs at chosen instants."""
    kw = {"nowfun": nowfun} if nowfun else {}
    recovery = (settings or Settings()).recovery_check_seconds
    return _no_result({
        # Enedis publishes D-1 from about 08:00: 09:15 catches what 08:15 missed (yesterday cached by 10:00),
        # later passes what Enedis publishes late. A pass fetches a used point's series once a day (refresh_point).
        "enedis-refresh": {
            "task": tasks.REFRESH_ALL,
            "schedule": crontab(minute=15, hour="8,9,13,17,21", **kw),
            "options": {"expires": 3600},
        },
        # Tomorrow's Tempo colour is committed at 10:30 (seen changing until ~11:15).
        "rte-tempo-tomorrow": {
            "task": tasks.TEMPO_TOMORROW,
            "schedule": crontab(minute="0,15,30,45", hour="10,11,12", **kw),
            "options": {"expires": 600},
        },
        "rte-tempo-season": {
            "task": tasks.TEMPO_SEASON,
            "schedule": crontab(minute=10, hour=4, **kw),
            "options": {"expires": 3600},
        },
        # Past seasons, back to the first day a Tempo price applies: asked only while incomplete.
        "rte-tempo-history": {
            "task": tasks.TEMPO_HISTORY,
            "schedule": crontab(minute=25, hour=4, **kw),
            "options": {"expires": 3600},
        },
        # EcoWatt allows one call per 15 minutes; every 30 minutes leaves room for a retry.
        "rte-ecowatt": {
            "task": tasks.ECOWATT,
            "schedule": crontab(minute="7,37", **kw),
            "options": {"expires": 900},
        },
        "rte-national-consumption": {
            "task": tasks.NATIONAL_CONSUMPTION,
            "schedule": crontab(minute="1,16,31,46", **kw),
            "options": {"expires": 600},
        },
        "tokens-renew": {
            "task": tasks.RENEW_TOKENS,
            "schedule": timedelta(minutes=20),
            "options": {"expires": 600},
        },
        "heartbeat": {
            "task": tasks.HEARTBEAT,
            "schedule": timedelta(seconds=30),
            "options": {"expires": 25},
        },
        # After an outage: backfills that stopped moving or that Valkey forgot go on; tasks the broker
        # refused after their transaction committed are sent (README, "Outages").
        "backfill-recovery": {
            "task": tasks.RESUME_BACKFILLS,
            "schedule": timedelta(seconds=recovery),
            "options": {"expires": max(1.0, recovery * 0.9)},
        },
        "unsent-recovery": {
            "task": tasks.RESEND_UNSENT,
            "schedule": timedelta(seconds=recovery),
            "options": {"expires": max(1.0, recovery * 0.9)},
        },
    })


def _no_result(entries: dict[str, dict]) -> dict[str, dict]:
    # Nobody reads a periodic task's result: beat does not subscribe to it, the worker does not store it.
    for entry in entries.values():
        entry["options"]["ignore_result"] = True
    return entries


BEAT_SCHEDULE = schedule()
