"""Public pages: FAQ.

The meter pages: `webapp.meters`; the grid pages: `webapp.grid`; filters, template globals
and plotly: `webapp.ui`.
"""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


# -- FAQ (public) --------------------------------------------------------------------------------


@bp.get("/faq")
def faq():
    return render_template("pages/faq.html")
