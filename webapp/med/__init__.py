"""MyElectricalData compatibility: its v1 routes at the root, its v2 routes under `/api`
(`docs/compat-api.md`), on the read API's services (`pipeline.api`), so the Home Assistant
integrations and scripts written for MyElectricalData read Relevé by changing a URL."""

from __future__ import annotations

from flask import Flask, Response, jsonify


# Where MED's routes live: the app's own errors there (unknown route, 405, 413, an outage's 503, a 500)
# are answered `{"detail": …}`, as MED's FastAPI answers them, never a page.
V1_PREFIXES = ("/valid_access/", "/daily_consumption", "/daily_production/", "/consumption_load_curve/",
               "/production_load_curve/", "/contracts/", "/addresses/", "/identity/", "/contact/", "/rte/", "/edf/",
               "/ping", "/cache/")
V2_PREFIXES = ("/api/pdl", "/api/enedis/", "/api/tempo", "/api/ecowatt/", "/api/energy/", "/api/consumption-france",
               "/api/accounts/")
MESSAGES = {
    400: "Requête invalide.", 401: "Authentification requise.", 403: "Accès refusé.", 404: "Introuvable.",
    405: "Méthode non permise ici.", 413: "Requête trop volumineuse.",
    500: "Erreur interne : réessayez dans un moment.",
    503: "Service momentanément indisponible : réessayez après le délai indiqué par Retry-After.",
}


def render_status(status: int, headers: dict[str, str]) -> Response:
    """`{"detail": …}` for an error the app raised on a MED route."""
    incident = headers.pop("X-Incident", None)
    message = MESSAGES.get(status, "Erreur.")
    response = jsonify(detail=f"{message} Référence : {incident}" if incident else message)
    response.status_code = status
    response.headers.update(headers)
    return response


def init_app(app: Flask) -> None:
    """Register both blueprints; they authenticate by token (never the session cookie), so no CSRF token."""
    from webapp import json_errors
    from webapp.extensions import csrf
    from webapp.med import v1, v2

    csrf.exempt(v1.bp)
    csrf.exempt(v2.bp)
    app.register_blueprint(v2.bp)
    app.register_blueprint(v1.bp)
    for prefix in (*V1_PREFIXES, *V2_PREFIXES):
        json_errors.register(app, prefix, render_status)
