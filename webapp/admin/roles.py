"""Rôles: create, edit permissions, delete (never a system role, never a role someone holds)."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from models import accounts
from models.permissions import FIXED_ROLES, ROLES_EDIT
from models.users import Role, user_roles
from webapp.admin import bp, client_ip, permission_required
from webapp.admin.common import done, refused
from webapp.admin.forms import ActionForm, RoleEditForm, RoleForm
from webapp.db import db


def _roles_page(form=None, status: int = 200):
    holders = dict(db().execute(select(user_roles.c.role_id, func.count()).group_by(user_roles.c.role_id)).all())
    roles = list(db().scalars(select(Role).order_by(Role.is_system.desc(), Role.name)))
    return render_template("admin/roles.html", roles=roles, holders=holders,
                           form=form or RoleForm(formdata=None)), status


@bp.get("/roles")
@permission_required(ROLES_EDIT)
def roles():
    return _roles_page()


@bp.post("/roles/nouveau")
@permission_required(ROLES_EDIT)
def create_role():
    form = RoleForm()
    if not form.validate_on_submit():
        return _roles_page(form, 400)
    try:
        role = accounts.create_role(db(), form.name.data.strip(), (form.description.data or "").strip(),
                                    set(form.permissions.data or ()), actor=current_user, ip=client_ip())
    except accounts.AdminRefused as exc:
        form.name.errors.append(exc.message)
        db().rollback()
        return _roles_page(form, 409)
    return done(f"Rôle « {role.name} » créé.", url_for("admin.role", role_id=role.id))


def _role(role_id: int) -> Role:
    role = db().get(Role, role_id)
    if role is None:
        abort(404)
    return role


def _role_page(role: Role, form=None, status: int = 200):
    if form is None:
        form = RoleEditForm(formdata=None, data={"description": role.description, "permissions": sorted(role.codes)})
    return render_template("admin/role.html", role=role, form=form,
                           holders=accounts.users_of_role(db(), role.id), fixed=role.name in FIXED_ROLES), status


@bp.get("/roles/<int:role_id>")
@permission_required(ROLES_EDIT)
def role(role_id: int):
    return _role_page(_role(role_id))


@bp.post("/roles/<int:role_id>")
@permission_required(ROLES_EDIT)
def update_role(role_id: int):
    target = _role(role_id)
    form = RoleEditForm()
    if not form.validate_on_submit():
        return _role_page(target, form, 400)
    try:
        accounts.update_role(db(), target.id, set(form.permissions.data or ()), (form.description.data or "").strip(),
                             actor=current_user, ip=client_ip())
    except accounts.AdminRefused as exc:
        return refused(exc.message)
    return done(f"Rôle « {target.label} » enregistré.", url_for("admin.role", role_id=target.id))


@bp.post("/roles/<int:role_id>/supprimer")
@permission_required(ROLES_EDIT)
def delete_role(role_id: int):
    target = _role(role_id)
    if not ActionForm().validate_on_submit():
        return refused("Formulaire invalide.", 400)
    try:
        name = accounts.delete_role(db(), target.id, actor=current_user, ip=client_ip())
    except accounts.AdminRefused as exc:
        return refused(exc.message)
    return done(f"Rôle « {name} » supprimé.", url_for("admin.roles"))
