"""Unexpected errors: a French page with an incident reference; the log gets the error's type and the
route's name, never request data (no path, query string, form value, header, nor the exception's text,
which can quote any of them)."""

from __future__ import annotations

import secrets

from flask import Flask, current_app, g, render_template, request
from markupsafe import escape
from werkzeug.exceptions import BadRequest, InternalServerError, MethodNotAllowed, RequestEntityTooLarge

from webapp import json_errors, outage

TITLE = "Erreur interne"
MESSAGE = ("Une erreur inattendue nous empêche de répondre. Elle a été enregistrée : réessayez dans un moment, "
           "et si elle persiste, donnez cette référence à l'administrateur.")
# When even the page cannot be drawn (the database is gone, a template fails): no template, no query.
BARE_PAGE = ('<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title} · Relevé</title></head>'
             "<body><h1>{title}</h1><p>{message}</p><p>Référence de l'incident : <code>{incident}</code></p></body></html>")

# Client errors that have no page of their own elsewhere (404, 403 and CSRF have theirs).
CLIENT_ERRORS = {
    BadRequest: ("Requête invalide", "La requête n'a pas pu être comprise."),
    MethodNotAllowed: ("Action impossible", "Cette page ne permet pas cette action."),
    RequestEntityTooLarge: ("Envoi trop volumineux", "Les données envoyées sont trop volumineuses."),
}


def log_incident(exc_info) -> None:
    """Replaces Flask's `log_exception`, which logs the request path and the full exception text.
    An outage (webapp/outage.py) is no incident: it is logged once, when it begins."""
    component = outage.component_of(exc_info[1])
    if component is not None:
        outage.note(component, exc_info[1])
        return
    g.incident = secrets.token_hex(6)
    current_app.logger.error("incident %s: %s in %s", g.incident, exc_info[0].__name__,
                             request.endpoint or "(no route)")


def internal_error(exc: InternalServerError):
    if outage.component_of(exc.original_exception) is not None:  # met after the view (a commit): still a 503
        return outage.unavailable_response()
    incident = g.get("incident")
    if incident is None:  # abort(500): nothing was logged yet
        log_incident((type(exc), exc, None))
        incident = g.incident
    session = g.get("db")
    if (api := json_errors.answer(500, {"X-Incident": incident})) is not None:
        if session is not None:
            session.rollback()
        return api
    try:
        if session is not None:
            session.rollback()  # a failed statement leaves the transaction unusable for the page's own queries
        return render_template("error.html", title=TITLE, message=MESSAGE, incident=incident), 500
    except Exception:  # noqa: BLE001 - the error page must answer whatever broke
        current_app.logger.error("incident %s: the error page failed too", incident)
        return BARE_PAGE.format(title=TITLE, message=escape(MESSAGE), incident=incident), 500


def client_error(exc):
    if (api := json_errors.answer(exc.code)) is not None:
        return api
    title, message = next(text for cls, text in CLIENT_ERRORS.items() if isinstance(exc, cls))
    return render_template("error.html", title=title, message=message), exc.code


def init_app(app: Flask) -> None:
    app.log_exception = log_incident
    app.register_error_handler(InternalServerError, internal_error)
    for cls in CLIENT_ERRORS:
        app.register_error_handler(cls, client_error)
