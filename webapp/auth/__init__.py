"""Accounts: sign-up, login, logout, e-mail verification, password reset."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.auth import routes  # noqa: E402,F401  (registers the views)
