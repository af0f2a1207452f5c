"""The JSON twins of the meter pages, which their script polls every 5 s while `pending` is true.

Same login and ownership checks as the pages, but 401 instead of a redirect to the login page.
"""

from __future__ import annotations

from flask import abort, jsonify, render_template, request

from models.series import CONSUMER_KINDS
from webapp.data import own_point
from webapp.meters import bp
from webapp.meters.charts import balance_charts, meter_charts
from webapp.meters.data import balance_data, meter_data
from webapp.ui import api_login_required


def meter_json(kind: str):
    kinds = CONSUMER_KINDS if kind == "consumption" else ("production",)
    pdl = request.args.get("pdl")
    if not pdl:
        abort(400)
    point = own_point(pdl)
    if point.kind not in kinds:
        return jsonify(error="wrong point kind", kind=point.kind), 409
    data = meter_data(point, kind, ask=False)
    summary = render_template("meters/_meter_summary.html", data=data, kind=kind, point=point)
    return jsonify(pending=data["pending"], charts=meter_charts(data), summary_html=summary)


@bp.get("/api/ui/consommation.json")
@api_login_required
def consumption_json():
    return meter_json("consumption")


@bp.get("/api/ui/production.json")
@api_login_required
def production_json():
    return meter_json("production")


@bp.get("/api/ui/bilan.json")
@api_login_required
def balance_json():
    if not request.args.get("conso") or not request.args.get("prod"):
        abort(400)
    conso, prod = own_point(request.args["conso"]), own_point(request.args["prod"])
    data = balance_data(conso, prod, ask=False)
    summary = render_template("meters/_balance_summary.html", data=data)
    return jsonify(pending=data["pending"], charts=balance_charts(data), summary_html=summary)
