"""Beat: every periodic task of the gateway, declared in one place (Europe/Paris).

No daily entry sits between 02:00 and 03:00, where daylight-saving changes skip or
repeat wall-clock times; frequent entries may lose or repeat one tick there, which is
harmless because each task computes its own target period from an aware "now" and
dedupes on it. `expires` keeps missed runs
from piling up while workers are down.
"""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab


def schedule(nowfun=None) -> dict[str, dict]:
    """The beat schedule; `nowfun` lets tests evaluate crontabs at chosen instants."""
    kw = {"nowfun": nowfun} if nowfun else {}
    return {
        # Enedis publishes D-1 from about 08:00; later passes catch late and partial days.
        "enedis-refresh": {
            "task": "releve.enedis.refresh_all",
            "schedule": crontab(minute=15, hour="8,10,13,17,21", **kw),
            "options": {"queue": "refresh", "expires": 3600},
        },
        # Tomorrow's Tempo colour is committed at 10:30 (seen changing until ~11:15).
        "rte-tempo-tomorrow": {
            "task": "releve.rte.tempo_tomorrow",
            "schedule": crontab(minute="0,15,30,45", hour="10,11,12", **kw),
            "options": {"queue": "rte", "expires": 600},
        },
        "rte-tempo-season": {
            "task": "releve.rte.tempo_season",
            "schedule": crontab(minute=10, hour=4, **kw),
            "options": {"queue": "rte", "expires": 3600},
        },
        # EcoWatt allows one call per 15 minutes; every 30 minutes leaves room for a retry.
        "rte-ecowatt": {
            "task": "releve.rte.ecowatt",
            "schedule": crontab(minute="7,37", **kw),
            "options": {"queue": "rte", "expires": 900},
        },
        "rte-national-consumption": {
            "task": "releve.rte.national_consumption",
            "schedule": crontab(minute="1,16,31,46", **kw),
            "options": {"queue": "rte", "expires": 600},
        },
        "tokens-renew": {
            "task": "releve.tokens.renew",
            "schedule": timedelta(minutes=20),
            "options": {"queue": "default", "expires": 600},
        },
        "heartbeat": {
            "task": "releve.heartbeat",
            "schedule": timedelta(seconds=30),
            "options": {"queue": "default", "expires": 25},
        },
    }


BEAT_SCHEDULE = schedule()
