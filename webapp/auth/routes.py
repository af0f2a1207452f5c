"""Account views."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models.accounts import default_role
from models.users import User, normalise_email
from webapp import json_errors, outage
from webapp.auth import bp
from webapp.auth.forms import LoginForm, ResetForm, ResetRequestForm, SignupForm
from webapp.db import db
from webapp.extensions import login_manager, settings
from webapp.mail import send_mail
from webapp.security import Throttle, mail_wait, make_token, read_token, safe_next
from webapp.sessions import end_all_sessions, end_session, is_live, sign_in

# Verifying a password costs the same whether the account exists or not (no user enumeration).
_DUMMY = User(email="dummy@invalid")
_DUMMY.set_password("not-a-real-password")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user a session or remember cookie names, while its password and its server-side session hold.

    PostgreSQL out of reach: nobody, for this request (webapp/outage.py): pages that need no account
    still answer, and those that need one answer 503 instead of asking to sign in again.
    """
    if outage.identity_unknown():
        return None  # the session cookie, then the remember cookie: one wait is enough
    try:
        return _load_user(user_id)
    except Exception as exc:
        if outage.component_of(exc) is None:
            raise
        outage.person_unknown(exc)
        return None


def _load_user(user_id: str) -> User | None:
    uid, _, rest = user_id.partition(".")
    fingerprint, _, token = rest.partition(".")
    if not uid.isdigit():
        return None
    user = db().get(User, int(uid))
    if user is None or not user.is_active or user.session_fingerprint() != fingerprint:
        return None
    if not is_live(user.id, token):
        return None  # logged out, signed out everywhere, or expired
    user.session_token = token
    return user


def _get_user(uid) -> User | None:
    return db().get(User, int(uid)) if isinstance(uid, int) else None


def _send(user: User, purpose: str) -> None:
    token = make_token(user, purpose)
    if purpose == "verify":
        link = settings().public_url + url_for("auth.verify", token=token)
        send_mail(user.email, "Relevé : confirmez votre adresse e-mail",
                  f"Bonjour,\n\nPour confirmer votre adresse, ouvrez ce lien (valable 48 heures) :\n{link}\n\n"
                  "Si vous n'avez pas créé de compte Relevé, ignorez ce message.\n")
    else:
        link = settings().public_url + url_for("auth.reset", token=token)
        send_mail(user.email, "Relevé : nouveau mot de passe",
                  f"Bonjour,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable 1 heure, une seule fois) :\n"
                  f"{link}\n\nSi vous n'avez rien demandé, ignorez ce message.\n")


def send_reset_link(user: User) -> None:
    """Mail `user` a single-use link to choose a new password (also sent by an administrator)."""
    _send(user, "reset")


# What every sign-up hears, whether the address is new or already has an account.
SIGNUP_ANSWER = ("Vérifiez votre boîte mail : un message vient d'être envoyé à cette adresse. Suivez ses "
                 "instructions pour confirmer votre adresse, puis connectez-vous.")


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _wait_message(wait: int) -> str:
    minutes = (wait + 59) // 60
    return f"Trop de demandes. Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}."


def _tell_owner_of_signup_attempt(owner: User) -> None:
    login, reset = (settings().public_url + url_for(endpoint) for endpoint in ("auth.login", "auth.reset_request"))
    send_mail(owner.email, "Relevé : tentative d'inscription avec votre adresse",
              "Bonjour,\n\nQuelqu'un, peut-être vous, a voulu créer un compte Relevé avec cette adresse e-mail. "
              "Elle a déjà un compte : aucun nouveau compte n'a été créé et le vôtre n'a pas changé.\n\n"
              f"Si c'était vous, connectez-vous : {login}\nMot de passe oublié ? {reset}\n\n"
              "Sinon, ignorez ce message.\n")


def _new_account(email: str, password: str) -> User | None:
    """The new account; None when the address is taken (two sign-ups at once: one wins, the other waits
    for its commit and finds the address taken).

    ON CONFLICT DO NOTHING rather than catching the unique violation: no error, so no log
    line holding the address and the password hash, not even in PostgreSQL's own log.
    """
    session = db()
    draft = User(email=email)  # never added to the session: only its password hash is used
    draft.set_password(password)
    uid = session.scalar(pg_insert(User).values(email=email, password_hash=draft.password_hash)
                         .on_conflict_do_nothing(index_elements=[User.email]).returning(User.id))
    if uid is None:
        return None
    user = session.get(User, uid)
    user.roles.append(default_role(session))
    return user


@bp.route("/inscription", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = SignupForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        session = db()
        # The same answer, at about the same cost (the password is hashed either way), whether the
        # address is new or not: sign-up does not tell who has an account. A new address gets its
        # verification link; a known one a notice (a few per hour at most), and nobody is signed in.
        owner = session.scalar(select(User).where(User.email == email))
        if owner is None:
            user = _new_account(email, form.password.data)  # None: a sign-up racing this one took the address
            owner = session.scalar(select(User).where(User.email == email)) if user is None else None
        else:
            user = None
            User(email=email).set_password(form.password.data)
        if user is not None:
            _send(user, "verify")
        elif owner is not None and not mail_wait("signup-notice", email, _client_address()):
            _tell_owner_of_signup_attempt(owner)
        flash(SIGNUP_ANSWER, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/signup.html", form=form)


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        throttle = Throttle(email, request.remote_addr or "unknown")
        wait = throttle.retry_after()
        if wait:
            minutes = (wait + 59) // 60
            flash(f"Trop de tentatives. Réessayez dans {minutes} minute{'s' if minutes > 1 else ''}.", "error")
            return render_template("auth/login.html", form=form), 429
        user = db().scalar(select(User).where(User.email == email))
        if (user or _DUMMY).check_password(form.password.data) and user is not None and user.is_active:
            throttle.succeeded()
            user.last_login_at = datetime.now(UTC)
            browser_session.clear()  # nothing of the anonymous session survives the login
            sign_in(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")))
        throttle.failed()
        flash("Adresse e-mail ou mot de passe incorrect.", "error")
    return render_template("auth/login.html", form=form)


@bp.post("/deconnexion")
@login_required
def logout():
    end_session(current_user)  # a copy of this browser's cookies is worth nothing from now on
    browser_session.clear()
    # After the clear: logout_user() marks the remember cookie for deletion in this very response.
    logout_user()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("main.index"))


@bp.get("/verifier/<token>")
def verify(token: str):
    user = read_token(token, "verify", _get_user)
    if user is None:
        flash("Ce lien n'est plus valable. Demandez-en un nouveau depuis vos paramètres.", "error")
        return redirect(url_for("main.index"))
    user.email_verified_at = datetime.now(UTC)
    flash("Adresse e-mail confirmée. Merci !", "success")
    return redirect(url_for("main.dashboard") if current_user.is_authenticated else url_for("auth.login"))


@bp.post("/verifier/renvoyer")
@login_required
def resend_verification():
    if current_user.email_verified_at is None:
        wait = mail_wait("verify", current_user.email, _client_address())
        if wait:
            flash(_wait_message(wait), "error")
        else:
            _send(current_user, "verify")
            flash("Un nouvel e-mail de confirmation vous a été envoyé.", "info")
    return redirect(url_for("main.dashboard"))


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        wait = mail_wait("reset", email, _client_address())  # counted for every address, known or not
        if wait:
            flash(_wait_message(wait), "error")
            return render_template("auth/reset_request.html", form=form), 429
        user = db().scalar(select(User).where(User.email == email))
        if user is not None and user.is_active:
            _send(user, "reset")
        # Same answer whether the account exists or not.
        flash("Si un compte existe pour cette adresse, un lien vient de lui être envoyé.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/nouveau-mot-de-passe/<token>", methods=["GET", "POST"])
def reset(token: str):
    user = read_token(token, "reset", _get_user)
    if user is None:
        flash("Ce lien n'est plus valable. Demandez-en un nouveau.", "error")
        return redirect(url_for("auth.reset_request"))
    form = ResetForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        end_all_sessions(user.id)
        logout_user()
        flash("Mot de passe changé. Connectez-vous avec le nouveau.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


@bp.app_errorhandler(404)
def not_found(_exc):
    if (api := json_errors.answer(404)) is not None:
        return api
    return render_template("error.html", title="Page introuvable", message="Cette page n'existe pas."), 404


@bp.app_errorhandler(403)
def forbidden(_exc):
    if (api := json_errors.answer(403)) is not None:
        return api
    return render_template("error.html", title="Accès refusé", message="Vous n'avez pas accès à cette page."), 403

