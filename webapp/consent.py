"""Enedis consent: send the household to Enedis, and take the PRMs it sends back.

Enedis does not let us exchange the returned `code` for a per-user token: data is read with
the application's own token, so **the `state` is the only thing that binds the returned
PRMs to the account that asked** (docs/upstream-apis.md, "Consent"). Hence a state that is
random, short-lived (10 minutes), single-use, held in the browser session AND stored (as a
SHA-256) against the user, and compared in constant time.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from authlib.integrations.requests_client import OAuth2Session
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from kombu.exceptions import KombuError
from redis import RedisError
from flask_login import current_user, login_required
from sqlalchemy import select, update

from models.consents import EnedisConsent
from models.usage_points import UsagePoint
from webapp.data import cache, settings
from webapp.db import audit, db

bp = Blueprint("consent", __name__)

SESSION_KEY = "enedis_consent_state"
STATE_LIFETIME = timedelta(minutes=10)
CONSENT_DURATION = "P1Y"
PRM_RE = re.compile(r"^[0-9]{14}$")
DURATION_RE = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def new_state(customer: str | None = None) -> str:
    """A random state (≤ 100 characters) whose last character is a digit (the sandbox's customer)."""
    digit = customer if customer and customer.isdigit() and len(customer) == 1 and customer != "9" \
        else str(secrets.randbelow(9))
    return secrets.token_urlsafe(32) + digit


def add_duration(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration made of years, months and days (P1Y, P36M, P1Y6M10D)."""
    match = DURATION_RE.match(duration)
    if not match:
        raise ValueError(f"unsupported duration {duration!r}")
    years, months, days = (int(g or 0) for g in match.groups())
    total = start.year * 12 + (start.month - 1) + years * 12 + months
    year, month = divmod(total, 12)
    month += 1
    # 31 January + P1M is the last day of February, as calendars do it.
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day) + timedelta(days=days)


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
    s.commit()
    session[SESSION_KEY] = state
    cfg = settings()
    oauth = OAuth2Session(cfg.enedis_client_id, redirect_uri=cfg.enedis_redirect_uri, scope=None)
    url, _ = oauth.create_authorization_url(cfg.enedis_consent_url, state=state, duration=CONSENT_DURATION)
    return redirect(url, code=303)


# A household's consent covers a handful of meters; a longer list is a tampered URL.
MAX_PRMS = 10


def parse_prms(raw: str) -> list[str] | None:
    """The PRMs of `usage_point_id` (`;` or `,` separated), or None when one is not 14 digits."""
    prms = [p.strip() for p in re.split(r"[;,]", raw)]
    if not raw or not all(PRM_RE.match(p) for p in prms):
        return None
    prms = list(dict.fromkeys(prms))  # once each, in order
    return prms if len(prms) <= MAX_PRMS else None


def tell_previous_holder(user_id: int, prm: str) -> None:
    """Mail the account that held a transferred meter: a move is expected, a surprise is reported."""
    from models.users import User
    from webapp.mail import send_mail

    user = db().get(User, user_id)
    if user is None:
        return
    send_mail(settings(), user.email, "Relevé : un compteur a été rattaché à un autre compte",
              f"Bonjour,\n\nLe compteur {prm} vient d'être ajouté à un autre compte Relevé, avec un "
              f"consentement donné chez Enedis. Il a été retiré de votre compte et ses relevés effacés.\n\n"
              f"Si vous avez déménagé, c'est normal. Sinon, répondez à ce message : un administrateur "
              f"vérifiera ce rattachement.\n")


@bp.get("/consent/callback")
@login_required
def callback():
    returned = request.args.get("state", "")
    expected = session.pop(SESSION_KEY, None)  # single use in the session too, whatever happens next
    now = datetime.now(UTC)
    s = db()
    # Claim the consent atomically: one callback only ever wins, even two at once.
    consent_id = None
    if returned and len(returned) <= 100:
        consent_id = s.scalar(
            update(EnedisConsent)
            .where(EnedisConsent.state_hash == hash_state(returned), EnedisConsent.user_id == current_user.id,
                   EnedisConsent.status == "pending", EnedisConsent.state_used_at.is_(None))
            .values(state_used_at=now)
            .returning(EnedisConsent.id))
        s.commit()
    if expected is None or consent_id is None or not hmac.compare_digest(returned.encode(), expected.encode()):
        return refuse("Ce retour d'Enedis ne correspond à aucune demande en cours de votre part "
                      "(lien déjà utilisé, expiré ou ouvert dans une autre session). "
                      "Recommencez depuis « Ajouter mon compteur ».")
    consent = s.get(EnedisConsent, consent_id)
    if consent.state_expires_at <= now:
        consent.status = "expired"
        s.commit()
        return refuse("La demande a expiré (plus de 10 minutes). Recommencez depuis « Ajouter mon compteur ».")

    error = request.args.get("error")
    if error:
        consent.status = "refused"
        s.commit()
        if error == "access_denied":
            flash("Vous avez refusé le partage de vos données : aucun compteur n'a été ajouté.", "info")
            return redirect(url_for("main.dashboard"))
        return refuse("Enedis n'a pas pu enregistrer votre consentement. Réessayez plus tard.")

    prms = parse_prms(request.args.get("usage_point_id", ""))
    if prms is None:
        consent.status = "refused"
        s.commit()
        return refuse("Enedis a renvoyé un numéro de point de livraison invalide (14 chiffres attendus).")

    consent.status, consent.prms, consent.started_at = "active", prms, now
    consent.expires_at = add_duration(now, consent.duration)
    points, dropped = [], []
    for prm in prms:
        point = s.scalar(select(UsagePoint).where(UsagePoint.pdl == prm).with_for_update())
        if point is None:
            point = UsagePoint(pdl=prm, user_id=current_user.id, name="", kind="unknown")
            s.add(point)
            audit("usage_point.added", prm)
        elif point.user_id != current_user.id:
            # The household moved in: the meter is theirs now; the previous holder's data goes.
            dropped.append((point.user_id, prm))
            audit("usage_point.transferred", prm, from_user=point.user_id, to_user=current_user.id)
            point.user_id, point.name, point.kind = current_user.id, "", "unknown"
            point.load_curve_enabled, point.activation_date, point.last_refreshed_at = True, None, None
        else:
            audit("usage_point.renewed", prm)
        point.status, point.status_reason = "active", ""
        points.append(point)
    s.commit()

    # After the commit: a failed transfer must not have wiped anything, and a task must find its row.
    for old_user, prm in dropped:
        cache().delete_point(old_user, prm)
        tell_previous_holder(old_user, prm)
    from pipeline.tasks.enedis import onboard

    try:
        for point in points:
            onboard.apply_async(kwargs={"point_id": point.id}, queue="interactive")
    except (KombuError, RedisError) as exc:  # the consent is recorded; the next refresh pass onboards
        current_app.logger.warning("onboarding not enqueued (%s); the next refresh pass will do it", exc)
        flash("La récupération démarrera un peu plus tard (service momentanément indisponible).", "info")
    count = len(points)
    flash(f"{'Compteur ajouté' if count == 1 else f'{count} compteurs ajoutés'} : "
          f"{', '.join(prms)}. La récupération de l'historique a commencé.", "success")
    return redirect(url_for("main.dashboard"))

