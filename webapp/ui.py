"""What every page shares: French formatting (template filters), template globals, the JSON
twins' login check, and plotly.js served by the app.

Charts are drawn by plotly.js, served by the app itself from the plotly Python package
(no CDN: the gateway works on a closed network). Pages embed their data as JSON in a
`<script type="application/json">` element; `static/charts.js` draws it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from functools import wraps

from flask import Blueprint, jsonify, send_file, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from webapp import outage

bp = Blueprint("ui", __name__)

MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
MONTHS_LONG = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
               "novembre", "décembre")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def fr_number(value: float | None, digits: int = 1) -> str:
    """12345.67 → "12 345,7" (French separators); None → "—"."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def fr_date(day: date, weekday: bool = False) -> str:
    text = f"{day.day} {MONTHS_LONG[day.month - 1]} {day.year}"
    return f"{WEEKDAYS[day.weekday()]} {text}" if weekday else text


def safe_url(endpoint: str, fallback: str, **values) -> str:
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return fallback


@bp.app_template_filter("fr")
def _fr_filter(value, digits: int = 1) -> str:
    return fr_number(value, digits)


def fr_money(value) -> str:
    """A Decimal amount in euros, rounded to the cent for display: 1234.565 → "1 234,57 €"; None → "—"."""
    if value is None:
        return "—"
    from decimal import ROUND_HALF_UP, Decimal

    return f"{fr_number(Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP), 2)} €"


@bp.app_template_filter("eur")
def _eur_filter(value) -> str:
    return fr_money(value)


@bp.app_template_filter("local_time")
def _local_time_filter(value, with_date: bool = False) -> str:
    """An aware time (or its ISO text) in Paris: "14 h 05", or "26 novembre 2026 à 14 h 05"."""
    from datetime import datetime

    from models.calendar import PARIS

    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(PARIS)
    text = f"{local.hour} h {local.minute:02d}"
    return f"{fr_date(local.date())} à {text}" if with_date else text


@bp.app_template_filter("fr_date")
def _fr_date_filter(value: date, weekday: bool = False) -> str:
    return fr_date(value, weekday)


@bp.app_context_processor
def _globals():
    return {"add_meter_url": lambda: safe_url("consent.start_page", "/compteurs/ajouter")}


def api_login_required(view: Callable) -> Callable:
    """JSON endpoints answer 401 instead of redirecting to the login page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            if outage.identity_unknown():  # PostgreSQL could not say who is asking
                raise outage.Unavailable("postgres")
            return jsonify(error="authentication required"), 401
        return view(*args, **kwargs)

    return wrapper


# -- plotly, served by the app ----------------------------------------------------------------


def plotly_path() -> str:
    import plotly

    return os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")


def plotly_version() -> str:
    import plotly

    return plotly.__version__


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    response = send_file(plotly_path(), mimetype="text/javascript", max_age=365 * 86400, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.app_context_processor
def _plotly_url():
    return {"plotly_url": lambda: url_for("ui.plotly_js", v=plotly_version())}
