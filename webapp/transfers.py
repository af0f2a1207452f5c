"""Transfer requests in the browser: ask for a meter another account holds, and answer such a request.

Only the two parties see a request: for anyone else it is a 404, like a request that does
not exist. Decisions go through `pipeline.transfers`, which enforces the state machine.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from models.pdl import is_pdl
from models.transfers import TransferRequest
from pipeline import transfers
from webapp.db import db
from webapp.extensions import celery
from webapp.inputs import MAX_ID

bp = Blueprint("transfers", __name__)

ID_RE = re.compile(r"^[0-9]{1,10}$")


def problem(message: str, status: int = 400):
    return render_template("error.html", title="Transfert de compteur", message=message), status


def _id(raw: str) -> int | None:
    return int(raw) if ID_RE.match(raw or "") and int(raw) <= MAX_ID else None


def party_request(request_id: int) -> TransferRequest:
    """A request the current user is a party to (holder or requester), else 404."""
    if request_id > MAX_ID:
        abort(404)
    found = db().scalar(select(TransferRequest).where(
        TransferRequest.id == request_id,
        or_(TransferRequest.requester_id == current_user.id, TransferRequest.holder_id == current_user.id)))
    if found is None:
        abort(404)
    return found


def pending_for(user_id: int) -> dict[str, list[TransferRequest]]:
    """Open requests for the dashboard: those made of this user, and those this user made."""
    rows = db().scalars(select(TransferRequest).where(
        TransferRequest.status == "pending",
        or_(TransferRequest.requester_id == user_id, TransferRequest.holder_id == user_id))
        .order_by(TransferRequest.id))
    out: dict[str, list[TransferRequest]] = {"incoming": [], "outgoing": []}
    for row in rows:
        out["outgoing" if row.requester_id == user_id else "incoming"].append(row)
    return out


def _now() -> datetime:
    return datetime.now(UTC)


@bp.post("/transferts/demander")
@login_required
def ask():
    """The requester confirms the offer made by a consent callback."""
    pdl, consent_id = request.form.get("pdl", ""), _id(request.form.get("consent", ""))
    if not is_pdl(pdl) or consent_id is None:
        return problem("Demande de transfert invalide. Recommencez depuis « Ajouter mon compteur ».")
    s = db()
    try:
        asked, created, done = transfers.request_transfer(s, current_user.id, pdl, consent_id, now=_now(),
                                                          ip=request.remote_addr)
    except transfers.TransferRefused as exc:
        s.rollback()
        return problem(exc.message, 409)
    if done is not None:
        transfers.after_transfer(s, celery(), done)
        flash(f"Le compteur {pdl} est maintenant rattaché à votre compte : l'accès Enedis du compte qui le "
              f"suivait avait pris fin. La récupération de l'historique a commencé.", "success")
        return redirect(url_for("main.dashboard"), code=303)
    if created:
        transfers.tell_of_request(s, celery(), asked)
    flash("Demande de transfert envoyée." if created else "Cette demande de transfert est déjà en cours.", "info")
    return redirect(url_for("transfers.show", request_id=asked.id), code=303)


@bp.get("/transferts/<int:request_id>")
@login_required
def show(request_id: int):
    found = party_request(request_id)
    role = "requester" if found.requester_id == current_user.id else "holder"
    return render_template("transfers/show.html", transfer=found, role=role,
                           outcome=transfers.RESOLUTION_LABELS.get(found.resolution, ""))


def _decide(request_id: int, role: str, decide):
    found = party_request(request_id)
    if (found.requester_id if role == "requester" else found.holder_id) != current_user.id:
        abort(404)
    s = db()
    try:
        result = decide(s, found.id)
    except transfers.TransferRefused as exc:
        s.rollback()
        return None, problem(exc.message, 409)
    return result, None


@bp.post("/transferts/<int:request_id>/refuser")
@login_required
def refuse(request_id: int):
    refused, answer = _decide(request_id, "holder", lambda s, rid: transfers.refuse(
        s, rid, by=current_user.id, as_admin=False, now=_now(), ip=request.remote_addr))
    if answer is not None:
        return answer
    transfers.tell_of_refusal(db(), celery(), refused)
    flash(f"Transfert refusé : le compteur {refused.pdl} reste sur votre compte.", "success")
    return redirect(url_for("transfers.show", request_id=request_id), code=303)


@bp.post("/transferts/<int:request_id>/accepter")
@login_required
def accept(request_id: int):
    done, answer = _decide(request_id, "holder", lambda s, rid: transfers.accept(
        s, rid, by=current_user.id, now=_now(), ip=request.remote_addr))
    if answer is not None:
        return answer
    transfers.after_transfer(db(), celery(), done)
    flash(f"Le compteur {done.pdl} a été transféré : il n'est plus suivi par votre compte.", "success")
    return redirect(url_for("main.dashboard"), code=303)


@bp.post("/transferts/<int:request_id>/annuler")
@login_required
def cancel(request_id: int):
    cancelled, answer = _decide(request_id, "requester", lambda s, rid: transfers.cancel(
        s, rid, by=current_user.id, now=_now(), ip=request.remote_addr))
    if answer is not None:
        return answer
    flash(f"Demande de transfert du compteur {cancelled.pdl} annulée.", "success")
    return redirect(url_for("transfers.show", request_id=request_id), code=303)
