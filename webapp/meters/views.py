"""The consumption, production and balance pages: login required, a PDL not the caller's is 404."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import login_required

from models.series import CONSUMER_KINDS
from webapp.data import own_points
from webapp.meters import bp
from webapp.meters.charts import balance_charts, meter_charts
from webapp.meters.data import balance_data, balance_points, choose_point, meter_data


def meter_page(kind: str):
    kinds = CONSUMER_KINDS if kind == "consumption" else ("production",)
    point, suitable, points = choose_point("pdl", kinds)
    endpoint = "meters.consumption" if kind == "consumption" else "meters.production"
    context = dict(kind=kind, point=point, suitable=suitable, points=points, endpoint=endpoint,
                   title="Consommation" if kind == "consumption" else "Production")
    if point is None or point.kind not in kinds:
        return render_template("meters/meter.html", data=None, **context)
    data = meter_data(point, kind, ask=True)
    api = url_for("meters.consumption_json" if kind == "consumption" else "meters.production_json",
                  pdl=point.pdl, jour=data["day"].isoformat(),
                  vue=data["view"])
    return render_template("meters/meter.html", data=data, charts=meter_charts(data), api_url=api, **context)


@bp.get("/consommation")
@login_required
def consumption():
    return meter_page("consumption")


@bp.get("/production")
@login_required
def production():
    return meter_page("production")


@bp.get("/bilan")
@login_required
def balance():
    conso, prod, consumers, producers = balance_points()
    context = dict(conso=conso, prod=prod, consumers=consumers, producers=producers, points=own_points())
    if conso is None or prod is None:
        return render_template("meters/balance.html", data=None, **context)
    data = balance_data(conso, prod, ask=True)
    api = url_for("meters.balance_json", conso=conso.pdl, prod=prod.pdl)
    return render_template("meters/balance.html", data=data, charts=balance_charts(data), api_url=api, **context)
