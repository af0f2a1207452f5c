"""What the admin pages share: refusals, pagination, the metadata shown of a point (never its readings)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template
from redis import RedisError
from sqlalchemy import Select, func, select

from models.consents import EnedisConsent
from models.usage_points import UsagePoint
from pipeline.monitoring import progress_of
from webapp.db import db
from webapp.extensions import settings

log = logging.getLogger(__name__)
PAGE_SIZE = 50
KINDS = {"consumption": "Consommation", "production": "Production", "unknown": "À déterminer"}
STATUSES = {"active": "Actif", "consent_needed": "Consentement à renouveler"}


def refused(message: str, status: int = 409):
    """A refusal the rules made (the last admin, a grant beyond one's own…): nothing was changed."""
    db().rollback()
    return render_template("admin/refused.html", message=message), status


def done(message: str, to: str):
    flash(message, "success")
    return redirect(to, code=303)


@dataclass
class Page:
    rows: list
    number: int
    total: int

    @property
    def last(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def paginate(query: Select, number: int) -> Page:
    total = db().scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(db().execute(query.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)))
    return Page(rows, number, total)


def consent_expiry(points: list[UsagePoint]) -> dict[int, datetime]:
    """For each point, the latest expiry among its holder's active consents that name its PRM."""
    if not points:
        return {}
    holders = {p.user_id for p in points}
    found: dict[tuple[int, str], datetime] = {}
    for user_id, prms, expires_at in db().execute(
            select(EnedisConsent.user_id, EnedisConsent.prms, EnedisConsent.expires_at)
            .where(EnedisConsent.user_id.in_(holders), EnedisConsent.status == "active")):
        for prm in prms:
            key = (user_id, prm)
            if expires_at and (key not in found or expires_at > found[key]):
                found[key] = expires_at
    return {p.id: found[(p.user_id, p.pdl)] for p in points if (p.user_id, p.pdl) in found}


def point_metadata(points: list[UsagePoint]) -> list[dict[str, Any]]:
    """What an administrator sees of points: status, kind, consent expiry, history progress, last refresh."""
    expiries = consent_expiry(points)
    try:
        progress = progress_of(settings(), [p.id for p in points])
    except RedisError as exc:
        log.warning("backfill progress not read: %s", exc)
        progress = None
    out = []
    for p in points:
        done_, total = (progress or {}).get(p.id, (None, None))
        out.append({"point": p, "kind": KINDS.get(p.kind, p.kind), "status": STATUSES.get(p.status, p.status),
                    "consent_expires": expiries.get(p.id),
                    "progress": None if progress is None else
                    ("non planifié" if total is None else f"{done_} / {total} ({done_ * 100 // total if total else 100} %)")})
    return out
