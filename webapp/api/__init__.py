"""The JSON read API for third-party clients (Home Assistant, scripts): Relevé's own `/api/v1`.

Tokens only (`Authorization: Bearer <API secret>`), never the session cookie; errors in JSON with
stable codes, never a page. The services behind it (authentication, ownership, cache reads, quotas)
are `pipeline.api`'s, shared with the MyElectricalData compatibility routes. `v1` holds the routes,
`openapi` the OpenAPI 3.1 document and its readable page.
"""

from flask import Blueprint

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

from webapp.api import openapi, v1  # noqa: E402,F401  (registers the views)
