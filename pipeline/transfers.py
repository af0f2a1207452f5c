"""Meters changing hands: what a consent callback may do, transfer requests, and the transfer.

The PRMs of a consent callback are claims the browser can edit (docs/security.md): a
callback adds a PDL nobody holds, renews one the caller holds, and never moves one held by
another account. That takes a transfer request, which completes only when the holder
accepts it, the holder's access is gone at Enedis, or an administrator approves it.

Views, the CLI and tasks call these functions; `TransferRequest.move_to` is where the state
machine is enforced. Each works in the caller's session and does not commit. What must
happen after the commit (forgetting the old holder's cache and keys, onboarding, mail) is
returned as a `Transferred`: `after_transfer` hands it to the session, to run once it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import Celery
from redis import RedisError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.audit import AuditLog
from models.consents import EnedisConsent
from models.db import after_commit
from models.keys import forget_point
from models.transfers import TransferRequest
from models.usage_points import KnownPdl, UsagePoint
from models.permissions import TRANSFERS_DECIDE
from models.users import Permission, Role, User
from models.valkey import get_client
from pipeline import tasks
from pipeline.celery_app import enqueue, settings_of

log = logging.getLogger(__name__)

OFFER_LIFETIME = timedelta(hours=24)  # how long a callback's claims can still become requests
ASK_AGAIN_AFTER = timedelta(days=30)  # a refused requester waits this long before asking again

# What a callback did with each PRM it brought.
ADDED, RENEWED, HELD_ELSEWHERE, REVIEW = "added", "renewed", "held_elsewhere", "review"

RESOLUTION_LABELS = {
    "refused_by_holder": "refusée par le compte qui suit le compteur",
    "refused_by_admin": "refusée par un administrateur",
    "cancelled_by_requester": "annulée par le demandeur",
    "superseded": "sans objet : le compteur a été rattaché à un autre compte",
    "requester_consent_expired": "annulée : le consentement Enedis du demandeur a expiré",
    "accepted_by_holder": "acceptée par le compte qui suivait le compteur",
    "approved_by_admin": "approuvée par un administrateur",
    "holder_consent_gone": "l'accès Enedis du compte qui suivait le compteur a pris fin",
}


class TransferRefused(Exception):
    """The request cannot be made or decided; `message` says why, in French, for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Claim:
    pdl: str
    outcome: str  # ADDED, RENEWED, HELD_ELSEWHERE or REVIEW
    point: UsagePoint | None = None


@dataclass
class Transferred:
    """A transfer committed by the caller; `after_transfer` does the rest."""

    pdl: str
    request_id: int
    resolution: str
    new_holder_id: int
    new_point_id: int
    old_holder_id: int | None = None
    old_point_id: int | None = None
    emails: dict[int, str] = field(default_factory=dict)
    superseded: list[int] = field(default_factory=list)  # requesters whose request lost its object


# -- reading and locking ---------------------------------------------------------------------

def _locked_point(session: Session, pdl: str) -> UsagePoint | None:
    return session.scalar(select(UsagePoint).where(UsagePoint.pdl == pdl).with_for_update()
                          .execution_options(populate_existing=True))


def _locked_request(session: Session, request_id: int) -> TransferRequest | None:
    return session.scalar(select(TransferRequest).where(TransferRequest.id == request_id).with_for_update()
                          .execution_options(populate_existing=True))


def remember_holder(session: Session, pdl: str, user_id: int) -> None:
    """Record `user_id` as the last account that held `pdl`."""
    session.execute(insert(KnownPdl).values(pdl=pdl, last_holder_id=user_id).on_conflict_do_update(
        index_elements=[KnownPdl.pdl], set_={"last_holder_id": user_id, "updated_at": func.now()}))


def _audit(session: Session, action: str, pdl: str, actor_id: int | None, ip: str | None, **details) -> None:
    session.add(AuditLog(actor_id=actor_id, action=action, target=pdl, ip_address=ip, details=details))


# -- what a callback may do ----------------------------------------------------------------

def claim_points(session: Session, user_id: int, pdls: list[str]) -> list[Claim]:
    """Apply a consent callback's PRMs for `user_id`: add, renew, or leave alone (never move)."""
    claims = []
    for pdl in pdls:
        point = _locked_point(session, pdl)
        if point is None:
            # First claim of a PDL never seen here: the insert wins; a concurrent claim waits for it.
            first = session.scalar(insert(KnownPdl).values(pdl=pdl, last_holder_id=user_id)
                                   .on_conflict_do_nothing().returning(KnownPdl.pdl))
            if first is None:
                known = session.scalar(select(KnownPdl).where(KnownPdl.pdl == pdl).with_for_update()
                                       .execution_options(populate_existing=True))
                if known.last_holder_id != user_id:
                    point = _locked_point(session, pdl)  # a concurrent claim may have just added it
                    if point is None or point.user_id != user_id:
                        claims.append(Claim(pdl, REVIEW if point is None else HELD_ELSEWHERE))
                        continue
            if point is None:
                point = UsagePoint(pdl=pdl, user_id=user_id, name="", kind="unknown")
                session.add(point)
                outcome = ADDED
            else:
                outcome = RENEWED
        elif point.user_id != user_id:
            claims.append(Claim(pdl, HELD_ELSEWHERE))  # never moved by a callback
            continue
        else:
            outcome = RENEWED
            remember_holder(session, pdl, user_id)  # points made before known_pdls, or by other paths
        point.status, point.status_reason = "active", ""
        claims.append(Claim(pdl, outcome, point))
    session.flush()
    return claims


# -- requests ------------------------------------------------------------------------------

def request_transfer(session: Session, requester_id: int, pdl: str, consent_id: int, *, now: datetime,
                     ip: str | None = None) -> tuple[TransferRequest, bool, Transferred | None]:
    """Ask for a meter that a recent callback of `requester_id` claimed and another account holds.

    Returns the request, whether it is new (asking twice gives the same one), and the
    transfer when the holder's access was already gone.
    """
    consent = session.get(EnedisConsent, consent_id)
    if (consent is None or consent.user_id != requester_id or consent.status != "active" or pdl not in consent.prms
            or consent.started_at is None or consent.started_at < now - OFFER_LIFETIME):
        raise TransferRefused("Cette proposition de transfert n'est plus valable. "
                              "Recommencez depuis « Ajouter mon compteur ».")
    point = _locked_point(session, pdl)
    if point is not None and point.user_id == requester_id:
        raise TransferRefused("Ce compteur est déjà rattaché à votre compte.")
    if point is None:
        known = session.scalar(select(KnownPdl).where(KnownPdl.pdl == pdl).with_for_update())
        if known is None or known.last_holder_id == requester_id:
            raise TransferRefused("Aucun autre compte ne suit ce compteur : recommencez depuis « Ajouter mon compteur ».")
    existing = session.scalar(select(TransferRequest).where(
        TransferRequest.pdl == pdl, TransferRequest.requester_id == requester_id, TransferRequest.status == "pending"))
    if existing is not None:
        return existing, False, None
    refused_at = session.scalar(
        select(TransferRequest.decided_at)
        .where(TransferRequest.pdl == pdl, TransferRequest.requester_id == requester_id,
               TransferRequest.status == "refused", TransferRequest.decided_at > now - ASK_AGAIN_AFTER)
        .order_by(TransferRequest.decided_at.desc()).limit(1))
    if refused_at is not None:
        again = (refused_at + ASK_AGAIN_AFTER).strftime("%d/%m/%Y")
        raise TransferRefused(f"Votre demande de transfert de ce compteur a été refusée. "
                              f"Vous pourrez en faire une nouvelle à partir du {again}.")
    request = TransferRequest(pdl=pdl, requester_id=requester_id, holder_id=point.user_id if point else None,
                              consent_id=consent_id)
    session.add(request)
    session.flush()
    _audit(session, "transfer.requested", pdl, requester_id, ip, request_id=request.id, holder=request.holder_id)
    done = None
    if point is not None and point.status == "consent_needed":
        done = complete_if_holder_gone(session, pdl, now=now)  # the holder's access is gone already
    return request, True, done


def refuse(session: Session, request_id: int, *, by: int | None, as_admin: bool, now: datetime,
           ip: str | None = None) -> TransferRequest:
    """The holder (or an administrator) refuses: the meter stays where it is."""
    request = _pending(session, request_id)
    if not as_admin and (by is None or request.holder_id != by):
        raise TransferRefused("Seul le compte qui suit ce compteur peut refuser ce transfert.")
    request.move_to("refused", "refused_by_admin" if as_admin else "refused_by_holder", at=now, by=by)
    _audit(session, "transfer.refused", request.pdl, by, ip, request_id=request.id, resolution=request.resolution)
    return request


def cancel(session: Session, request_id: int, *, by: int, now: datetime, ip: str | None = None) -> TransferRequest:
    """The requester withdraws the request."""
    request = _pending(session, request_id)
    if request.requester_id != by:
        raise TransferRefused("Seul le compte qui a fait la demande peut l'annuler.")
    request.move_to("cancelled", "cancelled_by_requester", at=now, by=by)
    _audit(session, "transfer.cancelled", request.pdl, by, ip, request_id=request.id)
    return request


def accept(session: Session, request_id: int, *, by: int, now: datetime, ip: str | None = None) -> Transferred:
    """The holder lets the meter go (they moved out)."""
    request = _pending(session, request_id)
    point = _locked_point(session, request.pdl)
    if request.holder_id != by or point is None or point.user_id != by:
        raise TransferRefused("Seul le compte qui suit ce compteur peut accepter ce transfert.")
    return _transfer(session, request, "accepted_by_holder", by=by, now=now, ip=ip)


def approve(session: Session, request_id: int, *, by: int | None, now: datetime, ip: str | None = None) -> Transferred:
    """An administrator approves: the meter goes to the requester."""
    return _transfer(session, _pending(session, request_id), "approved_by_admin", by=by, now=now, ip=ip)


def complete_if_holder_gone(session: Session, pdl: str, *, now: datetime) -> Transferred | None:
    """The holder's point needs a new consent: the one request waiting for that completes.

    Several requesters for one meter, or a request made of an earlier holder, wait for an
    administrator: Enedis cannot tell us which of them really consented.
    """
    point = _locked_point(session, pdl)
    if point is None or point.status != "consent_needed":
        return None
    pending = list(session.scalars(select(TransferRequest).where(
        TransferRequest.pdl == pdl, TransferRequest.status == "pending").order_by(TransferRequest.id)
        .with_for_update().execution_options(populate_existing=True)))
    if len(pending) != 1 or pending[0].holder_id != point.user_id:
        if pending:
            log.info("PDL transfer: %d pending requests for point %s, an administrator decides", len(pending), point.id)
        return None
    request = pending[0]
    consent = session.get(EnedisConsent, request.consent_id) if request.consent_id else None
    if consent is None or consent.expires_at is None or consent.expires_at <= now:
        request.move_to("cancelled", "requester_consent_expired", at=now)
        _audit(session, "transfer.cancelled", pdl, None, None, request_id=request.id, resolution=request.resolution)
        return None
    return _transfer(session, request, "holder_consent_gone", by=None, now=now)


def _pending(session: Session, request_id: int) -> TransferRequest:
    request = _locked_request(session, request_id)
    if request is None:
        raise TransferRefused("Cette demande de transfert n'existe pas.")
    if request.status != "pending":
        raise TransferRefused("Cette demande de transfert a déjà été traitée.")
    return request


def _transfer(session: Session, request: TransferRequest, resolution: str, *, by: int | None, now: datetime,
              ip: str | None = None) -> Transferred:
    """Give the meter to the requester as a new point: nothing of the old holder's comes along."""
    point = _locked_point(session, request.pdl)
    old_holder_id = old_point_id = None
    if point is not None:
        old_holder_id, old_point_id = point.user_id, point.id
        session.delete(point)
        session.flush()  # the PDL is unique: the old row goes before the new one comes
    new = UsagePoint(pdl=request.pdl, user_id=request.requester_id, name="", kind="unknown")
    session.add(new)
    session.flush()
    remember_holder(session, request.pdl, request.requester_id)
    request.move_to("completed", resolution, at=now, by=by)
    superseded = []
    for other in session.scalars(select(TransferRequest).where(
            TransferRequest.pdl == request.pdl, TransferRequest.status == "pending", TransferRequest.id != request.id)
            .with_for_update()):
        other.move_to("cancelled", "superseded", at=now)
        superseded.append(other.requester_id)
    _audit(session, "usage_point.transferred", request.pdl, by, ip, from_user=old_holder_id,
           to_user=request.requester_id, request_id=request.id, resolution=resolution,
           old_point_id=old_point_id, new_point_id=new.id)
    ids = {request.requester_id, *superseded} | ({old_holder_id} if old_holder_id else set())
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
    return Transferred(request.pdl, request.id, resolution, request.requester_id, new.id, old_holder_id,
                       old_point_id, emails, superseded)


# -- after the commit ------------------------------------------------------------------------

def notify(session: Session, celery: Celery, to: str | None, subject: str, body: str) -> None:
    """Mail someone through the mail task once `session` commits; a mail that cannot be queued is logged,
    never undoes a decision."""
    from pipeline.tasks.mail import enqueue_mail  # tasks import this module

    if to:
        enqueue_mail(celery, to, subject, body, session=session,
                     on_error=lambda exc: log.error("mail not queued (%s): %s", subject, exc))


def after_transfer(session: Session, celery: Celery, done: Transferred) -> None:
    """Once `session` commits the transfer: forget everything of the old holder for the point, onboard it
    for the new one, tell both."""
    client = get_client(settings_of(celery).valkey_url)

    def forget() -> None:
        try:
            if done.old_holder_id is not None:
                forget_point(client, done.old_holder_id, done.old_point_id)
            forget_point(client, done.new_holder_id, done.new_point_id)
        except RedisError as exc:  # the entries expire with their TTL; the new point has keys of its own
            log.error("transfer of request %s: the old holder's cache was not cleared (%s)", done.request_id, exc)

    after_commit(session, forget)
    # A point of unknown kind that could not be onboarded now is onboarded by the next refresh pass.
    enqueue(celery, tasks.ONBOARD, {"point_id": done.new_point_id}, session=session, on_error=lambda exc: log.warning(
        "transfer of request %s: onboarding not enqueued (%s)", done.request_id, exc))
    how = RESOLUTION_LABELS[done.resolution]
    notify(session, celery, done.emails.get(done.new_holder_id), f"Relevé : le compteur {done.pdl} est rattaché à votre compte",
           f"Bonjour,\n\nVotre demande de transfert du compteur {done.pdl} a abouti ({how}). Il est désormais "
           f"suivi par votre compte Relevé et la récupération de son historique commence.\n")
    if done.old_holder_id is not None:
        notify(session, celery, done.emails.get(done.old_holder_id), f"Relevé : le compteur {done.pdl} a été transféré",
               f"Bonjour,\n\nLe compteur {done.pdl} a été rattaché à un autre compte Relevé qui en avait fait la "
               f"demande ({how}). Il a été retiré de votre compte et ses relevés y ont été effacés.\n\n"
               f"Si vous n'avez pas déménagé, répondez à ce message : un administrateur vérifiera ce transfert.\n")
    for requester in done.superseded:
        notify(session, celery, done.emails.get(requester), f"Relevé : votre demande de transfert du compteur {done.pdl}",
               f"Bonjour,\n\nLe compteur {done.pdl} a été rattaché à un autre compte : votre demande de "
               f"transfert n'a plus d'objet. Si vous en êtes le titulaire, recommencez depuis « Ajouter mon compteur ».\n")


def tell_of_request(session: Session, celery: Celery, request: TransferRequest) -> None:
    """Mail the holder (who can refuse), or the administrators when no account holds the meter."""
    link = f"{settings_of(celery).public_url}/transferts/{request.id}"
    if request.holder_id is not None:
        holder = session.get(User, request.holder_id)
        notify(session, celery, holder.email if holder else None,
               f"Relevé : un autre compte demande le transfert du compteur {request.pdl}",
               f"Bonjour,\n\nUn autre compte Relevé a donné son consentement chez Enedis pour le compteur "
               f"{request.pdl}, que vous suivez, et demande qu'il lui soit rattaché.\n\n"
               f"Si vous avez déménagé, vous pouvez accepter. Sinon, refusez : {link}\n\n"
               f"Sans réponse de votre part, rien ne change tant que votre propre accès auprès d'Enedis "
               f"reste valable ; un administrateur peut aussi trancher.\n")
        return
    deciders = session.scalars(select(User.email).distinct().join(User.roles).join(Role.permissions)
                               .where(Permission.name == TRANSFERS_DECIDE, User.is_active.is_(True)))
    page = f"{settings_of(celery).public_url}/admin/compteurs/transferts"
    for email in deciders:
        notify(session, celery, email, f"Relevé : un transfert du compteur {request.pdl} attend votre décision",
               f"Bonjour,\n\nUn compte demande le compteur {request.pdl}, suivi auparavant par un compte supprimé "
               f"depuis (son consentement peut être encore valable chez Enedis). Demande n° {request.id}, à "
               f"approuver ou refuser dans l'administration : {page}\n(ou `releve transfers approve {request.id}` / "
               f"`releve transfers refuse {request.id}`).\n")


def tell_of_refusal(session: Session, celery: Celery, request: TransferRequest) -> None:
    requester = session.get(User, request.requester_id)
    notify(session, celery, requester.email if requester else None,
           f"Relevé : votre demande de transfert du compteur {request.pdl}",
           f"Bonjour,\n\nVotre demande de transfert du compteur {request.pdl} a été "
           f"{RESOLUTION_LABELS[request.resolution]}. Le compteur reste suivi par son compte actuel.\n")
