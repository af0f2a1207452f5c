"""Utilisateurs: search, detail (metadata only), disable/enable, delete, reset mail, role, forget the cache,
reset the API quotas."""

from __future__ import annotations

import re

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from models import accounts
from models.api_clients import ApiClient
from models.audit import AuditLog, record, user_target
from models.db import escape_like
from models.pdl import is_pdl
from models.permissions import LEGACY_USER, ROLES_EDIT, USERS_DELETE, USERS_EDIT, USERS_READ
from models.sessions import UserSession
from models.usage_points import UsagePoint
from models.users import Role, User, normalise_email
from models.valkey import get_client
from pipeline import accounts as account_ops
from pipeline.api import Quotas
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import done, paginate, point_metadata, refused
from webapp.admin.forms import ActionForm, ConfirmDeleteForm, RoleChoiceForm
from webapp.auth.routes import send_reset_link
from webapp.db import db
from webapp.extensions import celery, settings
from webapp.inputs import MAX_ID, query_page, query_text
from webapp.security import mail_wait

STATES = {"actifs": True, "desactives": False}


@bp.get("/utilisateurs")
@permission_required(USERS_READ)
def users():
    q, role, state, page = query_text("q"), query_text("role", 64), query_text("etat", 16), query_page()
    points = (select(UsagePoint.user_id, func.count().label("n")).group_by(UsagePoint.user_id).subquery())
    query = (select(User, func.coalesce(points.c.n, 0)).outerjoin(points, points.c.user_id == User.id)
             .order_by(User.id.desc()))
    if q:
        if is_pdl(q):
            query = query.where(User.id.in_(select(UsagePoint.user_id).where(UsagePoint.pdl == q)))
        elif re.fullmatch(r"#[0-9]{1,10}", q) and int(q[1:]) <= MAX_ID:
            query = query.where(User.id == int(q[1:]))
        else:
            query = query.where(User.email.ilike(f"%{escape_like(q.lower())}%", escape="\\"))
    if role:
        query = query.where(User.roles.any(Role.name == role))
    if state in STATES:
        query = query.where(User.is_active.is_(STATES[state]))
    roles = list(db().scalars(select(Role).order_by(Role.is_system.desc(), Role.name)))
    return render_template("admin/users.html", page=paginate(query, page), q=q, role=role, state=state, roles=roles)


def _user(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _detail(user: User, *, delete_form=None, role_form=None, status: int = 200):
    s = db()
    points = list(s.scalars(select(UsagePoint).where(UsagePoint.user_id == user.id).order_by(UsagePoint.pdl)))
    sessions = s.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))
    clients = s.scalar(select(func.count()).select_from(ApiClient)
                       .where(ApiClient.user_id == user.id, ApiClient.revoked_at.is_(None)))
    quota = api_usage(user.id)
    history = list(s.scalars(select(AuditLog).where(AuditLog.target == user_target(user.id))
                             .order_by(AuditLog.id.desc()).limit(20)))
    role_form = role_form or RoleChoiceForm(formdata=None)
    role_form.role.choices = _role_choices()
    if not role_form.role.data and user.roles:
        role_form.role.data = user.roles[0].id
    return render_template("admin/user.html", user=user, points=point_metadata(points), sessions=sessions,
                           clients=clients, history=history, quota=quota,
                           delete_form=delete_form or ConfirmDeleteForm(formdata=None), role_form=role_form), status


def api_usage(user_id: int) -> dict[str, int]:
    """Today's API reads of the account, its clients together (revoked ones too), as the quotas count them."""
    pks = list(db().scalars(select(ApiClient.id).where(ApiClient.user_id == user_id)))
    quotas = Quotas(get_client(settings().valkey_url), settings())
    total = {"cache:day": 0, "upstream:day": 0}
    for pk in pks:
        used = quotas.peek(pk).used
        for slot in total:
            total[slot] += used[slot]
    return total | {"clients": len(pks), "cache_limit": settings().api_quota_per_day,
                    "upstream_limit": settings().api_upstream_quota_per_day}


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(r.id, r.label) for r in db().scalars(select(Role).where(Role.name != LEGACY_USER)
                                                               .order_by(Role.is_system.desc(), Role.name))]


@bp.get("/utilisateurs/<int:user_id>")
@permission_required(USERS_READ)
def user(user_id: int):
    return _detail(_user(user_id))


def _back(user_id: int) -> str:
    return url_for("admin.user", user_id=user_id)


def _set_active(user_id: int, active: bool, said: str):
    target = _user(user_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    try:
        accounts.set_active(db(), target.id, active, actor=current_user, ip=client_ip())
    except accounts.AdminRefused as exc:
        return refused(exc.message)
    return done(f"Le compte {target.email} {said}.", _back(user_id))


@bp.post("/utilisateurs/<int:user_id>/desactiver")
@permission_required(USERS_EDIT)
def disable(user_id: int):
    return _set_active(user_id, False, "est désactivé : il ne peut plus se connecter")


@bp.post("/utilisateurs/<int:user_id>/reactiver")
@permission_required(USERS_EDIT)
def enable(user_id: int):
    return _set_active(user_id, True, "est réactivé")


@bp.post("/utilisateurs/<int:user_id>/supprimer")
@permission_required(USERS_DELETE)
def delete(user_id: int):
    target = _user(user_id)
    form = ConfirmDeleteForm()
    if not form.validate_on_submit():
        return _detail(target, delete_form=form, status=400)
    if normalise_email(form.email.data) != target.email:
        form.email.errors.append("Ce n'est pas l'adresse de ce compte.")
        return _detail(target, delete_form=form, status=400)
    email = target.email
    try:
        account_ops.delete_account(db(), settings(), target.id, ip=client_ip(), actor=current_user)
    except accounts.AdminRefused as exc:
        return refused(exc.message)
    return done(f"Le compte {email} et toutes ses données ont été supprimés.", url_for("admin.users"))


@bp.post("/utilisateurs/<int:user_id>/reinitialiser")
@permission_required(USERS_EDIT)
def send_reset(user_id: int):
    target = _user(user_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    if not target.is_active:
        return refused("Ce compte est désactivé : réactivez-le d'abord.")
    if mail_wait("reset", target.email, request.remote_addr or "unknown"):
        return refused("Trop de liens de mot de passe envoyés pour l'instant : réessayez dans une heure.", 429)
    send_reset_link(target)
    record(db(), "admin.user.reset_sent", actor_id=current_user.id, target=user_target(target.id),
                    ip=client_ip())
    return done(f"Un lien pour choisir un nouveau mot de passe a été envoyé à {target.email}.", _back(user_id))


@bp.post("/utilisateurs/<int:user_id>/role")
@permission_required(ROLES_EDIT)
def change_role(user_id: int):
    target = _user(user_id)
    form = RoleChoiceForm()
    form.role.choices = _role_choices()
    if not form.validate_on_submit():
        return _detail(target, role_form=form, status=400)
    try:
        accounts.set_role(db(), target.id, form.role.data, actor=current_user, ip=client_ip())
    except accounts.AdminRefused as exc:
        return refused(exc.message)
    return done(f"Rôle de {target.email} : {target.roles[0].label}.", _back(user_id))


@bp.post("/utilisateurs/<int:user_id>/oublier-cache")
@permission_required(USERS_EDIT)
def forget_cache(user_id: int):
    target = _user(user_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    refetched = account_ops.forget_cache(db(), celery(), settings(), target.id, actor=current_user, ip=client_ip())
    return done(f"Le cache de {target.email} est oublié ; l'historique de {refetched} compteur(s) est récupéré à "
                f"nouveau.", _back(user_id))


@bp.post("/utilisateurs/<int:user_id>/quota-api")
@permission_required(USERS_EDIT)
def reset_quota(user_id: int):
    target = _user(user_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    account_ops.reset_api_quotas(db(), settings(), target.id, actor=current_user, ip=client_ip())
    return done(f"Les quotas d'API de {target.email} sont remis à zéro.", _back(user_id))
