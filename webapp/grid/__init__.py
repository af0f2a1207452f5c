"""The grid pages: Tempo colours, EcoWatt signals, national consumption (RTE's public data).

They read the RTE tables in PostgreSQL, which the pipeline fills, and need no account.
Templates: templates/grid/.
"""

from flask import Blueprint

bp = Blueprint("grid", __name__)

from webapp.grid import views  # noqa: E402,F401  (registers the views)
