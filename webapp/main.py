"""The home page and the dashboard (templates: templates/main/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from models.calendar import PARIS
from models.consents import EnedisConsent
from models.keys import CONTRACT
from models.offers import get_offer
from models.usage_points import UsagePoint
from pipeline.backfill import read_progress
from webapp.data import cache, own_points
from webapp.db import db
from webapp.extensions import settings

bp = Blueprint("main", __name__)

KINDS = {"consumption": "Consommation", "production": "Production", "unknown": "Type en cours de détermination"}
CONSENT_NEEDED = {
    "ADAM-DC-0007": "Enedis indique que vous n'êtes plus titulaire du contrat de ce compteur "
                    "(déménagement, changement de titulaire). Si vous l'êtes toujours, renouvelez votre consentement.",
    "ADAM-DC-0008": "Votre consentement auprès d'Enedis a expiré ou a été retiré : Relevé ne peut plus lire "
                    "les données de ce compteur. Renouvelez-le pour reprendre la récupération.",
}
CONSENT_NEEDED_DEFAULT = CONSENT_NEEDED["ADAM-DC-0008"]


@bp.get("/")
def index():
    return render_template("main/index.html")


def _local(moment: datetime | None, fmt: str) -> str | None:
    return moment.astimezone(PARIS).strftime(fmt) if moment else None


def consent_expiries(user_id: int) -> dict[str, datetime]:
    """For each PRM, the latest expiry among the user's active consents that contain it."""
    expiries: dict[str, datetime] = {}
    for prms, expires_at in db().execute(select(EnedisConsent.prms, EnedisConsent.expires_at)
                                         .where(EnedisConsent.user_id == user_id, EnedisConsent.status == "active")):
        for prm in prms:
            if expires_at and (prm not in expiries or expires_at > expiries[prm]):
                expiries[prm] = expires_at
    return expiries


RENEW_BEFORE = timedelta(days=30)  # the dashboard offers renewal this long before a consent ends


def expiring_soon(expires_at: datetime | None, now: datetime | None = None) -> bool:
    return expires_at is not None and expires_at - (now or datetime.now(UTC)) < RENEW_BEFORE


def card(point: UsagePoint, expiries: dict[str, datetime]) -> dict[str, Any]:
    """What the dashboard shows of one point (also the JSON the page polls)."""
    contract = cache().get(point.user_id, CONTRACT, point=point.id) or None
    progress = read_progress(db(), settings().valkey_url, point.id)  # PostgreSQL holds it (pipeline/backfill.py)
    total, done = progress.get("total"), progress.get("done", 0)
    percent = (min(100, done * 100 // total) if total else 100) if total is not None else None
    active = point.status == "active"
    # Pending while onboarding has not planned the backfill yet, or the backfill runs.
    pending = active and (total is None or done < total)
    return {
        "pdl": point.pdl,
        "name": point.name,
        "kind": point.kind,
        "kind_label": KINDS.get(point.kind, point.kind),
        "status": point.status,
        "status_message": None if active else CONSENT_NEEDED.get(point.status_reason, CONSENT_NEEDED_DEFAULT),
        "contract": None if contract is None else {
            "subscribed_power": contract.get("subscribed_power"),
            "offpeak_hours": contract.get("offpeak_hours"),
            "distribution_tariff": contract.get("distribution_tariff"),
        },
        "consent_expires": _local(expiries.get(point.pdl), "%d/%m/%Y"),
        "consent_expiring": active and expiring_soon(expiries.get(point.pdl)),
        "last_refreshed": _local(point.last_refreshed_at, "%d/%m/%Y à %H:%M"),
        "progress": {"total": total, "done": done, "percent": percent},
        "pending": pending,
        "offer": _offer_name(point),  # the offer the household confirmed (None: still to confirm)
    }


def _offer_name(point: UsagePoint) -> str | None:
    offer = get_offer(db(), point.offer_id, point.user_id) if point.offer_id else None
    return offer.name if offer is not None else None


def cards() -> list[dict[str, Any]]:
    expiries = consent_expiries(current_user.id)
    return [card(p, expiries) for p in own_points()]


@bp.get("/tableau-de-bord")
@login_required
def dashboard():
    from webapp.transfers import pending_for

    items = cards()
    return render_template("main/dashboard.html", cards=items, pending=any(c["pending"] for c in items),
                           transfers=pending_for(current_user.id))


@bp.get("/tableau-de-bord/etat.json")
@login_required
def dashboard_state():
    items = cards()
    response = jsonify(points=items, pending=any(c["pending"] for c in items))
    response.headers["Cache-Control"] = "no-store"
    return response
