"""Public pages and the dashboard."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/tableau-de-bord")
@login_required
def dashboard():
    return render_template("dashboard.html")
