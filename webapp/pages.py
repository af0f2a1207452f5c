"""Data pages (placeholder: being written)."""

from flask import Blueprint

bp = Blueprint("pages", __name__)


def _soon():
    return "À venir", 501


for _path, _name in (("/consommation", "consumption"), ("/production", "production"), ("/bilan", "balance"),
                     ("/tempo", "tempo"), ("/ecowatt", "ecowatt"), ("/france", "france"), ("/faq", "faq")):
    bp.add_url_rule(_path, _name, _soon)
