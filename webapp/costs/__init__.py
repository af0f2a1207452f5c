"""What a household's electricity cost: "Consommation (€)" and the simulator, with their JSON twins.

Login required, the caller's own consumption points only (`webapp.data.own_point`: another account's
PDL is a 404). `data` turns the engine's results (`pipeline.costs`) into what the pages show, with their
coverage in plain French; `charts` draws them as the meter pages do; `views` renders the pages and
starts a simulation (POST, CSRF); `twins` answers the JSON the pages poll while readings arrive or a
simulation runs. Templates: templates/costs/.
"""

from flask import Blueprint

bp = Blueprint("costs", __name__)

from webapp.costs import twins, views  # noqa: E402,F401  (registers the views)
