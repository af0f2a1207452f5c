"""The Flask web app: user pages, admin and the JSON read API, served off the cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, g, request

from models import access
from models.settings import Settings, load


# Scripts only from files this app serves (no inline script, no eval); Plotly writes inline
# styles and draws images from data:/blob: URLs; no plugin, no framing, no <base> hijack.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
))


def _signed_in() -> bool:
    """Whether this request was served to a signed-in person (without loading a user just to know)."""
    user = g.get("_login_user")
    return user is not None and user.is_authenticated and request.endpoint != "static"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides (tests pass RELEVE_SETTINGS and DB_BIND).

    The settings (RELEVE_SETTINGS, else the environment's) are the only source of
    configuration: the Celery app the views send tasks through is built from them too
    (`app.extensions["celery"]`, Flask's celery_init_app pattern).
    """
    app = Flask(__name__)
    config = dict(config or {})
    settings: Settings = config.pop("RELEVE_SETTINGS", None) or load().require_runtime()
    access.configure(settings.valkey_url)  # the API keeps who a secret is; changes here must reach it
    app.config.update(
        SECRET_KEY=settings.secret_key,
        RELEVE_SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        REMEMBER_COOKIE_SECURE=settings.public_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    from pipeline.celery_app import create_celery
    from webapp.inputs import MAX_BODY, IdConverter

    app.extensions["celery"] = create_celery(settings)

    app.url_map.converters["int"] = IdConverter  # before the blueprints: every `<int:…>` is bounded
    app.config["MAX_CONTENT_LENGTH"] = config.get("MAX_CONTENT_LENGTH", MAX_BODY)
    if settings.trusted_proxies:
        # Behind N reverse proxies the client's address (login throttling) is in X-Forwarded-For.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of one-click forms
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if "Cache-Control" not in response.headers and (response.mimetype == "application/json" or _signed_in()):
            # A person's pages and every JSON answer stay out of browser and proxy caches
            # (a shared computer's back button, a caching proxy). Static files set their own.
            response.headers["Cache-Control"] = "no-store"
        return response

    from flask_wtf.csrf import CSRFError

    from webapp import (
        account, admin, api, auth, consent, contributions, costs, db, errors, grid, health, help, main, meters,
        outage, transfers, ui,
    )

    outage.init_app(app, settings)  # connections that give up quickly; 503 while a server is out of reach
    db.init_app(app, settings)  # one transaction per request (webapp/db.py)
    from webapp.extensions import csrf, login_manager

    errors.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    csrf.exempt(health.bp)  # GET only; probes carry no session
    csrf.exempt(api.bp)  # tokens only, never the session cookie: nothing for a forged request to ride on

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        from flask import render_template

        return render_template("error.html", title="Formulaire expiré",
                               message="Le formulaire a expiré ou n'est pas valide. Rechargez la page et réessayez."), 400

    app.register_blueprint(health.bp)
    app.register_blueprint(ui.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(consent.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(meters.bp)
    app.register_blueprint(costs.bp)
    app.register_blueprint(grid.bp)
    app.register_blueprint(help.bp)
    app.register_blueprint(transfers.bp)
    app.register_blueprint(contributions.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    from webapp import med

    med.init_app(app)  # MyElectricalData's v1 routes at the root and v2 under /api
    return app
