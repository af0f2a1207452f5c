"""Account settings: password, API credentials, account deletion.

Every action looks rows up by id AND the current user's id: another account's row is a 404,
exactly like a row that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import EqualTo, Length, Optional

from models.accounts import LastAdmin
from models.api_clients import ApiClient
from models.users import User
from pipeline import accounts
from webapp.auth.forms import AC_CURRENT, AC_NEW, PASSWORD_RULE, REQUIRED
from webapp.db import audit, db
from webapp.extensions import settings as releve_settings
from webapp.inputs import Form
from webapp.security import Throttle
from webapp.sessions import end_all_sessions, sign_in

bp = Blueprint("account", __name__)


class PasswordForm(Form):
    current = PasswordField("Mot de passe actuel", validators=[REQUIRED], render_kw=AC_CURRENT)
    password = PasswordField("Nouveau mot de passe", validators=[REQUIRED, PASSWORD_RULE], render_kw=AC_NEW)
    confirm = PasswordField("Confirmer", validators=[REQUIRED, EqualTo("password", message="Les mots de passe ne correspondent pas.")],
                            render_kw=AC_NEW)
    submit = SubmitField("Changer le mot de passe")


class ApiClientForm(Form):
    name = StringField("Nom (facultatif, ex. « Home Assistant »)", validators=[Optional(), Length(max=100)])
    submit = SubmitField("Créer des identifiants")


class DeleteForm(Form):
    confirm_password = PasswordField("Mot de passe", validators=[REQUIRED], render_kw=AC_CURRENT)
    submit = SubmitField("Supprimer définitivement mon compte")


def me() -> User:
    return current_user._get_current_object()


def own_clients() -> list[ApiClient]:
    return list(db().scalars(select(ApiClient).where(ApiClient.user_id == current_user.id, ApiClient.revoked_at.is_(None))
                             .order_by(ApiClient.created_at, ApiClient.id)))


def own_client(pk: int) -> ApiClient:
    client = db().scalar(select(ApiClient).where(ApiClient.id == pk, ApiClient.user_id == current_user.id,
                                                 ApiClient.revoked_at.is_(None)))
    if client is None:
        abort(404)
    return client


def page(password_form=None, api_form=None, delete_form=None, new_secret=None, status=200):
    """The settings page; a freshly issued secret is shown once and never stored nor cached."""
    response = make_response(render_template(
        "account/settings.html", password_form=password_form or PasswordForm(),
        api_form=api_form or ApiClientForm(), delete_form=delete_form or DeleteForm(),
        clients=own_clients(), new_secret=new_secret), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def checked(password: str) -> bool | None:
    """Whether `password` is the current user's; None when too many failures (throttled)."""
    throttle = Throttle(current_user.email, request.remote_addr or "unknown")
    if throttle.retry_after():
        return None
    if me().check_password(password):
        throttle.succeeded()
        return True
    throttle.failed()
    return False


@bp.route("/parametres", methods=["GET", "POST"])
@login_required
def settings():
    form = PasswordForm()
    if request.method == "POST" and form.validate_on_submit():
        ok = checked(form.current.data)
        if ok is None:
            flash("Trop de tentatives. Réessayez plus tard.", "error")
            return page(password_form=form, status=429)
        if not ok:
            form.current.errors.append("Mot de passe incorrect.")
            return page(password_form=form, status=400)
        user = me()
        user.set_password(form.password.data)
        audit("account.password_changed")
        end_all_sessions(user.id)
        # Every other session is signed out (their rows are gone, and the fingerprint changed);
        # this one continues in a new session.
        sign_in(user)
        flash("Mot de passe changé. Vos autres sessions ont été déconnectées.", "success")
        return redirect(url_for("account.settings"))
    return page(password_form=form, status=400 if request.method == "POST" else 200)


@bp.post("/parametres/deconnexion-partout")
@login_required
def sign_out_everywhere():
    form = Form()
    if not form.validate_on_submit():
        return page(status=400)
    uid = current_user.id
    ended = end_all_sessions(uid)
    audit("account.signed_out_everywhere", f"user:{uid}", sessions=ended)
    browser_session.clear()
    logout_user()  # after the clear: this response also deletes the remember cookie
    flash("Vous êtes déconnecté de tous vos appareils, y compris celui-ci.", "success")
    return redirect(url_for("auth.login"))


def _issue(name: str) -> tuple[ApiClient, str]:
    client, secret = ApiClient.issue(current_user.id, name=name)
    db().add(client)
    return client, secret


@bp.post("/parametres/api")
@login_required
def create_client():
    form = ApiClientForm()
    if not form.validate_on_submit():
        return page(api_form=form, status=400)
    client, secret = _issue((form.name.data or "").strip())
    db().flush()
    audit("api_client.created", client.client_id)
    return page(new_secret=(client, secret))


@bp.post("/parametres/api/<int:pk>/regenerer")
@login_required
def regenerate_client(pk: int):
    old = own_client(pk)
    old.revoked_at = datetime.now(UTC)
    client, secret = _issue(old.name)
    audit("api_client.regenerated", client.client_id, replaces=old.client_id)
    return page(new_secret=(client, secret))


@bp.post("/parametres/api/<int:pk>/revoquer")
@login_required
def revoke_client(pk: int):
    client = own_client(pk)
    client.revoked_at = datetime.now(UTC)
    audit("api_client.revoked", client.client_id)
    flash("Identifiants révoqués : ils ne donnent plus accès à vos données.", "success")
    return redirect(url_for("account.settings"))


@bp.post("/parametres/supprimer")
@login_required
def delete_account():
    form = DeleteForm()
    if not form.validate_on_submit():
        return page(delete_form=form, status=400)
    ok = checked(form.confirm_password.data)
    if not ok:
        form.confirm_password.errors.append("Trop de tentatives. Réessayez plus tard." if ok is None else "Mot de passe incorrect.")
        return page(delete_form=form, status=429 if ok is None else 400)
    try:
        accounts.delete_account(db(), releve_settings(), current_user.id, ip=request.remote_addr or None)
    except LastAdmin as exc:
        db().rollback()
        form.confirm_password.errors.append(exc.message)
        return page(delete_form=form, status=409)
    logout_user()
    flash("Votre compte et toutes vos données ont été supprimés.", "success")
    return redirect(url_for("main.index"))
