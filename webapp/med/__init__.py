"""MyElectricalData compatibility: its v1 routes at the root, its v2 routes under `/api`
(`docs/compat-api.md`), on the read API's services (`pipeline.api`), so the Home Assistant
integrations and scripts written for MyElectricalData read Relevé by changing a URL."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register both blueprints; they authenticate by token (never the session cookie), so no CSRF token."""
    from webapp.extensions import csrf
    from webapp.med import v1, v2

    csrf.exempt(v1.bp)
    csrf.exempt(v2.bp)
    app.register_blueprint(v2.bp)
    app.register_blueprint(v1.bp)
