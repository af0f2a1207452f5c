"""Enedis consent: send the household to Enedis, and take the PRMs it sends back.

Enedis does not let us exchange the returned `code` for a per-user token: data is read with
the application's own token, so **the `state` is the only thing that binds the returned
PRMs to the account that asked** (docs/upstream-apis.md, "Consent"). Hence a state that is
random, short-lived (10 minutes), single-use, held in the browser session AND stored (as a
SHA-256) against the user, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import update

from models.consents import EnedisConsent
from models.pdl import normalise_pdl
from pipeline import points, transfers
from webapp.db import audit, db
from webapp.extensions import celery, settings

bp = Blueprint("consent", __name__)

SESSION_KEY = "enedis_consent_state"
STATE_LIFETIME = timedelta(minutes=10)
CONSENT_DURATION = "P1Y"


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def new_state(customer: str | None = None) -> str:
    """A random state (≤ 100 characters) whose last character is a digit (the sandbox's customer)."""
    digit = customer if customer and customer.isdigit() and len(customer) == 1 and customer != "9" \
        else str(secrets.randbelow(9))
    return secrets.token_urlsafe(32) + digit


def is_sandbox() -> bool:
    """The consent page is not Enedis's own (the sandbox, in development): offer its customers."""
    s = settings()
    host = urlsplit(s.enedis_consent_url).hostname or ""
    return not s.is_production and not (host == "enedis.fr" or host.endswith(".enedis.fr"))


# Enedis's test customers, selected by the last digit of `state` (docs/upstream-apis.md).
# Written out here: the web app never imports the sandbox package.
SANDBOX_CUSTOMERS = [
    (0, "consommation, courbe de charge, sans trou"),
    (1, "comme 0, compteur actif depuis le 27/08/2019"),
    (2, "consommation, courbe de charge non activée"),
    (3, "un point de consommation et un de production"),
    (4, "consommation, trous chaque mardi et mercredi"),
    (5, "production seule"),
    (6, "autoconsommation"),
    (7, "trois points de consommation"),
    (8, "consent puis révoque aussitôt (ADAM-DC-0008)"),
]


def sandbox_customers() -> list[tuple[int, str]]:
    return [(digit, f"{digit} : {label}") for digit, label in SANDBOX_CUSTOMERS]


def refuse(message: str):
    return render_template("error.html", title="Consentement non pris en compte", message=message), 400


@bp.get("/compteurs/ajouter")
@login_required
def start_page():
    customers = sandbox_customers() if is_sandbox() else []
    return render_template("consent/start.html", customers=customers)


@bp.post("/compteurs/ajouter")
@login_required
def start():
    customer = request.form.get("customer", "") if is_sandbox() else ""
    state = new_state(customer)
    now = datetime.now(UTC)
    s = db()
    s.add(EnedisConsent(user_id=current_user.id, state_hash=hash_state(state), status="pending",
                        duration=CONSENT_DURATION, state_expires_at=now + STATE_LIFETIME))
    session[SESSION_KEY] = state
    cfg = settings()
    oauth = OAuth2Session(cfg.enedis_client_id, redirect_uri=cfg.enedis_redirect_uri, scope=None)
    url, _ = oauth.create_authorization_url(cfg.enedis_consent_url, state=state, duration=CONSENT_DURATION)
    return redirect(url, code=303)


# A household's consent covers a handful of meters; a longer list is a tampered URL.
MAX_PRMS = 10


def parse_prms(raw: str) -> list[str] | None:
    """The PRMs of `usage_point_id` (`;` or `,` separated), or None when one is not 14 digits."""
    prms = [normalise_pdl(p) for p in re.split(r"[;,]", raw)]
    if not raw or None in prms:
        return None
    prms = list(dict.fromkeys(prms))  # once each, in order
    return prms if len(prms) <= MAX_PRMS else None


def claimed(raw: str) -> dict:
    """What a callback claimed, for the audit log: its PRMs when well-formed, else only its size."""
    prms = parse_prms(raw)
    return {"prms": prms} if prms is not None else {"prms": None, "raw_length": len(raw)}


def audit_callback(outcome: str, consent_id: int | None, **details) -> None:
    """Every callback is audited: account (actor), address, state id, claimed PRMs, outcome."""
    audit("consent.callback", f"consent:{consent_id}" if consent_id else "", outcome=outcome, state_id=consent_id,
          **details)


@bp.get("/consent/callback")
@login_required
def callback():
    returned = request.args.get("state", "")
    expected = session.pop(SESSION_KEY, None)  # single use in the session too, whatever happens next
    now = datetime.now(UTC)
    s = db()
    raw_prms = request.args.get("usage_point_id", "")
    # Claim the consent atomically: one callback only ever wins, even two at once (the second waits for
    # the first's commit, then finds the state used). A refusal below commits too: the state stays spent.
    consent_id = None
    if returned and len(returned) <= 100:
        consent_id = s.scalar(
            update(EnedisConsent)
            .where(EnedisConsent.state_hash == hash_state(returned), EnedisConsent.user_id == current_user.id,
                   EnedisConsent.status == "pending", EnedisConsent.state_used_at.is_(None))
            .values(state_used_at=now)
            .returning(EnedisConsent.id))
    if expected is None or consent_id is None or not hmac.compare_digest(returned.encode(), expected.encode()):
        audit_callback("unknown_state", consent_id, **claimed(raw_prms))
        return refuse("Ce retour d'Enedis ne correspond à aucune demande en cours de votre part "
                      "(lien déjà utilisé, expiré ou ouvert dans une autre session). "
                      "Recommencez depuis « Ajouter mon compteur ».")
    consent = s.get(EnedisConsent, consent_id)
    if consent.state_expires_at <= now:
        consent.status = "expired"
        audit_callback("expired", consent_id, **claimed(raw_prms))
        return refuse("La demande a expiré (plus de 10 minutes). Recommencez depuis « Ajouter mon compteur ».")

    error = request.args.get("error")
    if error:
        consent.status = "refused"
        audit_callback("denied" if error == "access_denied" else "error", consent_id)
        if error == "access_denied":
            flash("Vous avez refusé le partage de vos données : aucun compteur n'a été ajouté.", "info")
            return redirect(url_for("main.dashboard"))
        return refuse("Enedis n'a pas pu enregistrer votre consentement. Réessayez plus tard.")

    prms = parse_prms(raw_prms)
    if prms is None:
        consent.status = "refused"
        audit_callback("invalid_prms", consent_id, **claimed(raw_prms))
        return refuse("Enedis a renvoyé un numéro de point de livraison invalide (14 chiffres attendus).")

    def not_enqueued(exc: Exception) -> None:  # the consent is recorded; the next refresh pass onboards
        current_app.logger.warning("onboarding not enqueued (%s); the next refresh pass will do it", exc)
        flash("La récupération démarrera un peu plus tard (service momentanément indisponible).", "info")

    # The PRMs are claims (docs/security.md): a meter another account holds never changes hands here.
    claims = points.accept_consent(s, celery(), consent, prms, now=now, ip=request.remote_addr or None,
                                   on_error=not_enqueued)
    audit_callback("accepted", consent_id, prms=prms, outcomes={c.pdl: c.outcome for c in claims})
    added = [c.pdl for c in claims if c.point is not None]
    offers = [c for c in claims if c.point is None]
    if offers:
        return render_template("transfers/offer.html", added=added, offers=offers, consent_id=consent_id,
                               review=transfers.REVIEW)
    count = len(added)
    flash(f"{'Compteur ajouté' if count == 1 else f'{count} compteurs ajoutés'} : "
          f"{', '.join(added)}. La récupération de l'historique a commencé.", "success")
    return redirect(url_for("main.dashboard"))
