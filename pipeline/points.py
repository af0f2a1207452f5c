"""Points a consent brings: added or renewed, then onboarded once the transaction commits; and what an
administrator may do to a point (force a refresh, detach it; never attach one to an account).

The PRMs Enedis sends back are claims (docs/security.md): `transfers.claim_points` decides
what each may do, and a PRM another account holds only becomes a transfer offer. Views, the
admin area and the API to come call these functions; they do not commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from celery import Celery
from redis import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import AuditLog, point_target, record
from models.consents import EnedisConsent
from models.db import after_commit
from models.keys import admin_refresh_claim, forget_point
from models.usage_points import UsagePoint
from models.users import User
from models.valkey import get_client
from pipeline import tasks, transfers
from pipeline.celery_app import enqueue, settings_of
from pipeline.tasks.base import once

log = logging.getLogger(__name__)


def accept_consent(session: Session, celery: Celery, consent: EnedisConsent, prms: list[str], *, now: datetime,
                   ip: str | None = None, on_error: Callable[[Exception], object] | None = None
                   ) -> list[transfers.Claim]:
    """Enedis sent the household back with `prms` for `consent`: activate it, add or renew the points its
    account may have (audited), and onboard them once `session` commits (`on_error`: the broker refused).

    A claim without a point is a PRM the caller offers as a transfer request, or for review.
    """
    consent.activate(prms, now)
    claims = transfers.claim_points(session, consent.user_id, prms)
    for claim in claims:
        if claim.point is not None:
            session.add(AuditLog(actor_id=consent.user_id, action=f"usage_point.{claim.outcome}", target=claim.pdl,
                                 ip_address=ip, details={}))
            enqueue(celery, tasks.ONBOARD, {"point_id": claim.point.id}, session=session, on_error=on_error)
    return claims


# -- what an administrator may do to a point (never attach one to an account) ---------------------

ADMIN_REFRESH_EVERY = 300  # seconds: a second forced refresh of the same point within this is refused


class PointRefused(Exception):
    """The operation cannot be done on this point; `message` says why, in French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _point(session: Session, point_id: int, *, lock: bool = False) -> UsagePoint:
    query = select(UsagePoint).where(UsagePoint.id == point_id)
    point = session.scalar(query.with_for_update().execution_options(populate_existing=True) if lock else query)
    if point is None:
        raise PointRefused("Ce compteur n'existe pas (il a peut-être été transféré ou retiré).")
    return point


def force_refresh(session: Session, celery: Celery, point_id: int, *, actor_id: int, ip: str | None) -> str:
    """Fetch a point's recent days now (or onboard it, when never onboarded), once `session` commits.

    Audited; at most once per point every ADMIN_REFRESH_EVERY seconds (the Enedis quota is
    everyone's). Returns the task name sent.
    """
    point = _point(session, point_id)
    if point.status != "active":
        raise PointRefused("Ce compteur attend un nouveau consentement de son titulaire : rien ne peut être "
                           "récupéré avant.")
    if not once(settings_of(celery), admin_refresh_claim(point.id), ADMIN_REFRESH_EVERY):
        raise PointRefused("Une actualisation de ce compteur a déjà été demandée il y a moins de 5 minutes.")
    name = tasks.ONBOARD if point.kind == "unknown" else tasks.REFRESH_POINT
    record(session, "admin.point.refresh", actor_id=actor_id, target=point_target(point.pdl), ip=ip,
           point_id=point.id, task=name)
    enqueue(celery, name, {"point_id": point.id}, session=session)
    return name


def detach(session: Session, celery: Celery, point_id: int, *, actor_id: int, ip: str | None,
           reason: str = "") -> UsagePoint:
    """Take a point away from its account (audited, the holder mailed); what Valkey holds of it goes
    after the commit. The PDL stays known with that holder: the same account can add it again by a
    consent, another account only through a transfer request an administrator decides."""
    point = _point(session, point_id, lock=True)
    holder = session.get(User, point.user_id)
    before = {"user_id": point.user_id, "status": point.status, "kind": point.kind}
    transfers.remember_holder(session, point.pdl, point.user_id)
    session.delete(point)
    session.flush()
    record(session, "admin.point.detached", actor_id=actor_id, target=point_target(point.pdl), ip=ip,
           before=before, after=None, point_id=point.id, **({"reason": reason} if reason else {}))
    client = get_client(settings_of(celery).valkey_url)
    user_id, pid = point.user_id, point.id

    def forget() -> None:
        try:
            forget_point(client, user_id, pid)
        except RedisError as exc:  # the entries expire with their TTL
            log.error("detached point %s: cache not cleared (%s)", pid, exc)

    after_commit(session, forget)
    transfers.notify(session, celery, holder.email if holder else None, f"Relevé : le compteur {point.pdl} a été retiré de votre compte",
           f"Bonjour,\n\nUn administrateur de Relevé a retiré le compteur {point.pdl} de votre compte"
           f"{' (motif : ' + reason + ')' if reason else ''}. Ses relevés y ont été effacés.\n\n"
           f"Si vous en êtes toujours le titulaire, vous pouvez l'ajouter à nouveau depuis « Ajouter mon compteur ».\n")
    return point
