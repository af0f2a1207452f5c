"""Account settings (placeholder: being written)."""

from flask import Blueprint

bp = Blueprint("account", __name__)


@bp.get("/parametres")
def settings():
    return "À venir", 501
