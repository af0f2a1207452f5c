"""The admin area, under /admin: one module per resource, each view guarded by one decorator.

`permission_required(code)` is the only access check of the area: it answers the login page
to anonymous visitors and 403 to an account whose roles do not grant `code`
(models/permissions.py). Every view of the blueprint carries it, GETs and POSTs alike;
a view without it is refused (404) before it runs, and tests/webapp/test_admin_permissions.py
walks the URL map and fails on any /admin route that lacks it.

Admins see metadata, never a household's readings: nothing in this package reads the cache.

Extension point: a new page is a module here with its views decorated, imported at the bottom,
and one line in `NAV`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user

from models import permissions
from models.calendar import PARIS
from models.permissions import (
    AUDIT_READ, CONTRIBUTIONS_REVIEW, ECOWATT_REFRESH, OFFERS_EDIT, PERMISSIONS, POINTS_READ, ROLES_EDIT, SYSTEM_READ,
    TEMPO_EDIT, TRANSFERS_DECIDE, USERS_READ,
)
from webapp.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


def permission_required(code: str) -> Callable:
    """The one decorator of every admin view: signed in, and holding `code`."""
    if code not in PERMISSIONS:
        raise ValueError(f"unknown permission {code!r}")  # at import: a typo never ships

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_permission(code):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_permission = code
        return guarded

    return decorate


def required_permission(endpoint: str) -> str | None:
    """The permission an endpoint's view declares (None: it declares none)."""
    return getattr(current_app.view_functions.get(endpoint), "required_permission", None)


@bp.before_request
def _refuse_undeclared_views():
    # Defence in depth: a view that forgot its decorator answers nothing.
    if required_permission(request.endpoint) is None:
        abort(404)


# The admin navigation: (endpoint, label, permission), in order. A page shows for whoever holds its permission.
NAV: list[tuple[str, str, str]] = [
    ("admin.dashboard", "Tableau de bord", SYSTEM_READ),
    ("admin.users", "Utilisateurs", USERS_READ),
    ("admin.roles", "Rôles", ROLES_EDIT),
    ("admin.points", "Compteurs", POINTS_READ),
    ("admin.transfers_page", "Transferts", TRANSFERS_DECIDE),
    ("admin.offers", "Offres", OFFERS_EDIT),
    ("admin.contributions", "Contributions", CONTRIBUTIONS_REVIEW),
    ("admin.tempo", "Tempo", TEMPO_EDIT),
    ("admin.special_days", "Jours EJP et Sobriété", TEMPO_EDIT),
    ("admin.ecowatt", "EcoWatt", ECOWATT_REFRESH),
    ("admin.journal", "Journal", AUDIT_READ),
]


def nav() -> list[dict]:
    """The admin pages the current user may open."""
    if not current_user.is_authenticated:
        return []
    held = current_user.permission_codes()
    return [{"url": url_for(endpoint), "label": label, "current": request.endpoint == endpoint}
            for endpoint, label, code in NAV if code in held and endpoint in current_app.view_functions]


@bp.app_context_processor
def _admin_globals():
    def admin_home() -> str | None:
        pages = nav()
        return pages[0]["url"] if pages else None

    return {"admin_home": admin_home, "admin_nav": nav, "P": permissions}


@bp.app_template_filter("paris")
def _paris(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return moment.astimezone(PARIS).strftime(fmt) if moment else "—"


def client_ip() -> str | None:
    return request.remote_addr or None


from webapp.admin import (  # noqa: E402,F401  (registers the views)
    calendars, contributions, dashboard, grid, journal, offers, points, roles, users,
)
