"""What an administrator asks of RTE's public data: a Tempo refresh, an EcoWatt refresh.

Both only enqueue (the web process never calls upstream) and are audited. EcoWatt may be
asked at most once per 15 minutes (RTE's rule, kept by the cluster-wide limiter): a refresh
asked sooner is refused with the wait, rather than queued to be skipped.
"""

from __future__ import annotations

from celery import Celery
from sqlalchemy.orm import Session

from models.audit import record
from models.valkey import get_client
from pipeline import tasks
from pipeline.celery_app import enqueue, settings_of
from pipeline.services import ecowatt_limiter


class TooSoon(Exception):
    """EcoWatt was asked less than 15 minutes ago; `wait` seconds remain."""

    def __init__(self, wait: float):
        super().__init__(f"EcoWatt asked too recently, {wait:.0f} s to wait")
        self.wait = wait


def refresh_tempo(session: Session, celery: Celery, *, actor_id: int, ip: str | None) -> None:
    """The season so far (even if today's pass ran) and tomorrow's colour, once `session` commits."""
    record(session, "admin.tempo.refresh", actor_id=actor_id, target="tempo", ip=ip)
    enqueue(celery, tasks.TEMPO_SEASON, {"force": True}, session=session)
    enqueue(celery, tasks.TEMPO_TOMORROW, {}, session=session)


def ecowatt_wait(celery: Celery) -> float:
    """Seconds before EcoWatt may be asked again (0: now)."""
    return ecowatt_limiter(get_client(settings_of(celery).valkey_url)).blocked_for()


def refresh_ecowatt(session: Session, celery: Celery, *, actor_id: int, ip: str | None) -> None:
    """EcoWatt now, when the 15-minute rule allows it (else TooSoon), once `session` commits."""
    wait = ecowatt_wait(celery)
    if wait > 0:
        raise TooSoon(wait)
    record(session, "admin.ecowatt.refresh", actor_id=actor_id, target="ecowatt", ip=ip)
    enqueue(celery, tasks.ECOWATT, {}, session=session)
