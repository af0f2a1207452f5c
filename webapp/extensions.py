"""Flask extensions, created unbound and bound in create_app, and what create_app binds to the app.

Views read the settings and send tasks only through `settings()` and `celery()`: both are
the app's own (the Settings given to create_app, and the Celery app built from them).
"""

from celery import Celery
from flask import current_app
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from models.settings import Settings


class _LoginManager(LoginManager):
    def unauthorized(self):
        """A page that needs the account: the login page, unless PostgreSQL could not say who is asking."""
        from webapp import outage

        if outage.identity_unknown():
            raise outage.Unavailable("postgres")
        return super().unauthorized()


login_manager = _LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

csrf = CSRFProtect()


def settings() -> Settings:
    """The settings this app was created with."""
    return current_app.config["RELEVE_SETTINGS"]


def celery() -> Celery:
    """The Celery app bound to this app's settings (its broker, its routes)."""
    return current_app.extensions["celery"]
