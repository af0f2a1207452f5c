"""The JSON twins of the cost pages, polled every 5 s while readings arrive or a simulation runs.

Same login and ownership checks as the pages, 401 instead of a redirect. The costs twin also asks for
the days still missing (deduplicated, within the person's budget), so two years of readings arrive
while the page stays open; the simulator's reports where the task stands (`progress_html`).
"""

from __future__ import annotations

from flask import abort, jsonify, render_template, request

from models.series import CONSUMER_KINDS
from webapp.costs import bp
from webapp.costs.charts import costs_charts, simulation_charts
from webapp.costs.data import costs_data, simulation_data
from webapp.data import own_point
from webapp.ui import api_login_required


def _point():
    pdl = request.args.get("pdl")
    if not pdl:
        abort(400)
    point = own_point(pdl)
    if point.kind not in CONSUMER_KINDS:
        return None
    return point


@bp.get("/api/ui/consommation-euros.json")
@api_login_required
def costs_json():
    point = _point()
    if point is None:
        return jsonify(error="wrong point kind"), 409
    data = costs_data(point, ask=True)
    summary = render_template("costs/_costs_summary.html", data=data, point=point)
    return jsonify(pending=data["pending"], charts=costs_charts(data), summary_html=summary)


@bp.get("/api/ui/simulateur.json")
@api_login_required
def simulator_json():
    point = _point()
    if point is None:
        return jsonify(error="wrong point kind"), 409
    data = simulation_data(point)
    progress = data["progress"]
    return jsonify(
        pending=data["pending"],
        progress={k: progress.get(k) for k in ("state", "done", "total", "resume_at", "message", "stale")}
        if progress else None,
        progress_html=render_template("costs/_progress.html", data=data),
        charts=simulation_charts(data["result"]),
        summary_html=render_template("costs/_simulation.html", data=data, point=point))
