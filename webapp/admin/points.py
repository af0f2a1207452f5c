"""Compteurs: list and search, one point's metadata, force a refresh, detach; transfer requests decided here.

No view attaches a PDL to an account: a meter reaches an account only through that
account's consent (a callback) or a transfer request it made (docs/security.md).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from models.audit import AuditLog
from models.db import escape_like
from models.permissions import POINTS_DETACH, POINTS_READ, POINTS_REFRESH, TRANSFERS_DECIDE
from models.transfers import TransferRequest
from models.usage_points import UsagePoint
from models.users import User
from pipeline import points as point_ops
from pipeline import transfers
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import STATUSES, done, paginate, point_metadata, refused
from webapp.admin.forms import ActionForm, DetachForm
from webapp.db import db
from webapp.extensions import celery
from webapp.inputs import query_page, query_text


@bp.get("/compteurs")
@permission_required(POINTS_READ)
def points():
    q, state, page = query_text("q"), query_text("etat", 16), query_page()
    query = select(UsagePoint, User.email).join(User, User.id == UsagePoint.user_id).order_by(UsagePoint.id.desc())
    if q:
        if q.isascii() and q.isdigit():
            query = query.where(UsagePoint.pdl.like(escape_like(q) + "%", escape="\\"))
        else:
            query = query.where(User.email.ilike(f"%{escape_like(q.lower())}%", escape="\\"))
    if state in STATUSES:
        query = query.where(UsagePoint.status == state)
    found = paginate(query, page)
    metadata = {m["point"].id: m for m in point_metadata([row[0] for row in found.rows])}
    return render_template("admin/points.html", page=found, metadata=metadata, q=q, state=state, statuses=STATUSES)


def _point(point_id: int) -> UsagePoint:
    point = db().get(UsagePoint, point_id)
    if point is None:
        abort(404)
    return point


def _point_page(point: UsagePoint, detach_form=None, status: int = 200):
    s = db()
    holder = s.get(User, point.user_id)
    requests = list(s.scalars(select(TransferRequest).where(TransferRequest.pdl == point.pdl)
                              .order_by(TransferRequest.id.desc()).limit(20)))
    history = list(s.scalars(select(AuditLog).where(AuditLog.target == point.pdl).order_by(AuditLog.id.desc()).limit(20)))
    return render_template("admin/point.html", meta=point_metadata([point])[0], holder=holder, requests=requests,
                           history=history, detach_form=detach_form or DetachForm(formdata=None),
                           labels=transfers.RESOLUTION_LABELS), status


@bp.get("/compteurs/<int:point_id>")
@permission_required(POINTS_READ)
def point(point_id: int):
    return _point_page(_point(point_id))


@bp.post("/compteurs/<int:point_id>/actualiser")
@permission_required(POINTS_REFRESH)
def refresh_point(point_id: int):
    target = _point(point_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    try:
        point_ops.force_refresh(db(), celery(), target.id, actor_id=current_user.id, ip=client_ip())
    except point_ops.PointRefused as exc:
        return refused(exc.message)
    return done(f"Actualisation du compteur {target.pdl} demandée : un worker s'en charge.",
                url_for("admin.point", point_id=target.id))


@bp.post("/compteurs/<int:point_id>/retirer")
@permission_required(POINTS_DETACH)
def detach_point(point_id: int):
    target = _point(point_id)
    form = DetachForm()
    if not form.validate_on_submit():
        return _point_page(target, form, 400)
    if form.pdl.data.strip() != target.pdl:
        form.pdl.errors.append("Ce n'est pas le PDL de ce compteur.")
        return _point_page(target, form, 400)
    pdl = target.pdl
    try:
        point_ops.detach(db(), celery(), target.id, actor_id=current_user.id, ip=client_ip(),
                         reason=(form.reason.data or "").strip())
    except point_ops.PointRefused as exc:
        return refused(exc.message)
    return done(f"Le compteur {pdl} a été retiré de son compte, et son titulaire prévenu.", url_for("admin.points"))


# -- transfer requests ------------------------------------------------------------------------------


@bp.get("/compteurs/transferts")
@permission_required(TRANSFERS_DECIDE)
def transfers_page():
    requester, holder = aliased(User), aliased(User)
    rows = db().execute(select(TransferRequest, requester.email, holder.email)
                        .join(requester, requester.id == TransferRequest.requester_id)
                        .outerjoin(holder, holder.id == TransferRequest.holder_id)
                        .order_by((TransferRequest.status == "pending").desc(), TransferRequest.id.desc())
                        .limit(200)).all()
    statuses = dict(db().execute(select(UsagePoint.pdl, UsagePoint.status)
                                 .where(UsagePoint.pdl.in_({r[0].pdl for r in rows}))).all()) if rows else {}
    return render_template("admin/transfers.html", rows=rows, statuses=statuses,
                           labels=transfers.RESOLUTION_LABELS, point_statuses=STATUSES)


@bp.post("/compteurs/transferts/<int:request_id>/approuver")
@permission_required(TRANSFERS_DECIDE)
def approve_transfer(request_id: int):
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    try:
        result = transfers.approve(db(), request_id, by=current_user.id, now=datetime.now(UTC), ip=client_ip())
    except transfers.TransferRefused as exc:
        return refused(exc.message)
    transfers.after_transfer(db(), celery(), result)
    return done(f"Transfert approuvé : le compteur {result.pdl} est rattaché au compte qui l'a demandé.",
                url_for("admin.transfers_page"))


@bp.post("/compteurs/transferts/<int:request_id>/refuser")
@permission_required(TRANSFERS_DECIDE)
def refuse_transfer(request_id: int):
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    try:
        request = transfers.refuse(db(), request_id, by=current_user.id, as_admin=True, now=datetime.now(UTC),
                                   ip=client_ip())
    except transfers.TransferRefused as exc:
        return refused(exc.message)
    transfers.tell_of_refusal(db(), celery(), request)
    return done(f"Transfert refusé : le compteur {request.pdl} reste où il est.", url_for("admin.transfers_page"))
