"""Contributions: moderation. Approve (one, or many at once: the same service), ask the author a question, reject;
each contribution shown with a diff against the offer as it stands."""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from models import contributions as contrib
from models.contributions import Contribution, ContributionRefused
from models.offers import Offer, Provider
from models.permissions import CONTRIBUTIONS_REVIEW
from models.users import User
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import done, paginate, refused
from webapp.admin.forms import ActionForm, MessageForm, RejectForm
from webapp.db import db
from webapp.inputs import MAX_ID, query_page

MAX_BULK = 100


def _status_arg() -> str:
    state = request.args.get("etat", "open")
    if state != "open" and state not in contrib.STATUSES:
        abort(400)
    return state


@bp.get("/contributions")
@permission_required(CONTRIBUTIONS_REVIEW)
def contributions():
    state, page = _status_arg(), query_page()
    query = (select(Contribution, User.email).outerjoin(User, User.id == Contribution.user_id)
             .order_by(Contribution.id))
    query = query.where(Contribution.status.in_(contrib.OPEN) if state == "open" else Contribution.status == state)
    counts = dict(db().execute(select(Contribution.status, func.count()).group_by(Contribution.status)).all())
    return render_template("admin/contributions.html", page=paginate(query, page), state=state, counts=counts,
                           labels=contrib.STATUS_LABELS, form=ActionForm(formdata=None))


def _contribution(contribution_id: int) -> Contribution:
    row = db().get(Contribution, contribution_id)
    if row is None:
        abort(404)
    return row


def _detail(row: Contribution, ask_form=None, reject_form=None, status: int = 200):
    s = db()
    author = s.get(User, row.user_id) if row.user_id else None
    provider = None
    if row.kind == "new_offer":
        provider = s.get(Provider, (row.payload or {}).get("provider_id"))
    offer = s.get(Offer, row.offer_id) if row.offer_id else None
    return render_template("admin/contribution.html", row=row, author=author, offer=offer, provider=provider,
                           diff=contrib.diff(s, row), action_form=ActionForm(formdata=None),
                           ask_form=ask_form or MessageForm(formdata=None),
                           reject_form=reject_form or RejectForm(formdata=None)), status


@bp.get("/contributions/<int:contribution_id>")
@permission_required(CONTRIBUTIONS_REVIEW)
def contribution(contribution_id: int):
    return _detail(_contribution(contribution_id))


def _approve(ids: list[int], back: str):
    result = contrib.approve(db(), ids, actor_id=current_user.id, ip=client_ip())
    for contribution_id, why in result.refused.items():
        flash(f"Contribution n° {contribution_id} non approuvée : {why}", "error")
    if not result.approved:
        return refused("Aucune contribution approuvée." if len(ids) > 1 else next(iter(result.refused.values())))
    numbers = ", ".join(f"n° {i}" for i in result.approved)
    return done(f"Approuvée{'s' if len(result.approved) > 1 else ''} : {numbers}.", back)


@bp.post("/contributions/<int:contribution_id>/approuver")
@permission_required(CONTRIBUTIONS_REVIEW)
def approve_contribution(contribution_id: int):
    row = _contribution(contribution_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    return _approve([row.id], url_for("admin.contribution", contribution_id=row.id))


@bp.post("/contributions/approuver")
@permission_required(CONTRIBUTIONS_REVIEW)
def approve_contributions():
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    raw = request.form.getlist("ids")
    if not raw:
        return refused("Cochez au moins une contribution.", 400)
    if len(raw) > MAX_BULK or not all(v.isascii() and v.isdigit() and 0 < len(v) <= 10 and int(v) <= MAX_ID
                                      for v in raw):
        return refused("Sélection invalide.", 400)
    return _approve([int(v) for v in raw], url_for("admin.contributions"))


@bp.post("/contributions/<int:contribution_id>/question")
@permission_required(CONTRIBUTIONS_REVIEW)
def ask_contribution(contribution_id: int):
    row = _contribution(contribution_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return _detail(row, ask_form=form, status=400)
    try:
        contrib.ask(db(), row.id, form.body.data, actor_id=current_user.id, ip=client_ip())
    except ContributionRefused as exc:
        return refused(exc.message)
    return done("Question envoyée à l'auteur : la contribution attend sa réponse.",
                url_for("admin.contribution", contribution_id=row.id))


@bp.post("/contributions/<int:contribution_id>/refuser")
@permission_required(CONTRIBUTIONS_REVIEW)
def reject_contribution(contribution_id: int):
    row = _contribution(contribution_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _detail(row, reject_form=form, status=400)
    try:
        contrib.reject(db(), row.id, form.reason.data, actor_id=current_user.id, ip=client_ip())
    except ContributionRefused as exc:
        return refused(exc.message)
    return done(f"Contribution n° {row.id} refusée.", url_for("admin.contributions"))
