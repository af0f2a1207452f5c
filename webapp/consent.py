"""Enedis consent (placeholder: being written)."""

from flask import Blueprint

bp = Blueprint("consent", __name__)


@bp.get("/compteurs/ajouter")
def start():
    return "À venir", 501
