"""Help pages: the FAQ (public, no account needed)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("help", __name__)


@bp.get("/faq")
def faq():
    return render_template("help/faq.html")
