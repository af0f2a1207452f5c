"""A household's meter pages: consumption, production, their balance, and the pages' JSON twins.

Each page needs a login and shows only the caller's own points (`webapp.data.own_point`):
`data` reads the cache and asks for what is missing, `charts` turns it into plotly figures,
`views` renders the pages and `twins` their JSON twins, which a page's script polls every
5 s while `pending` is true, then redraws. Templates: templates/meters/.
"""

from flask import Blueprint

bp = Blueprint("meters", __name__)

from webapp.meters import twins, views  # noqa: E402,F401  (registers the views)
