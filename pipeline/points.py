"""Points a consent brings: added or renewed, then onboarded once the transaction commits.

The PRMs Enedis sends back are claims (docs/security.md): `transfers.claim_points` decides
what each may do, and a PRM another account holds only becomes a transfer offer. Views, the
admin area and the API to come call these functions; they do not commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from celery import Celery
from sqlalchemy.orm import Session

from models.audit import AuditLog
from models.consents import EnedisConsent
from pipeline import tasks, transfers
from pipeline.celery_app import enqueue


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
