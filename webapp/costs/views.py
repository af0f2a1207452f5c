"""The "Consommation (€)" and simulator pages, and starting a simulation (POST, CSRF)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import login_required
from wtforms import HiddenField

from models.keys import simulation_claim
from models.series import CONSUMER_KINDS
from pipeline import tasks
from pipeline.celery_app import enqueue
from pipeline.costs import offer_choice, read_progress, set_progress
from pipeline.tasks.base import once
from webapp.clock import last_published_day
from webapp.costs import bp
from webapp.costs.charts import costs_charts, simulation_charts
from webapp.costs.data import ask_contract, costs_data, simulation_data
from webapp.data import cache, own_point
from webapp.db import db
from webapp.extensions import celery, settings
from webapp.inputs import Form
from webapp.meters.data import choose_point

MAX_POLLS = 240  # 20 minutes of polling every 5 s: two years of readings, or a simulation, take a while


class SimulateForm(Form):
    pdl = HiddenField()


def api_url(endpoint: str, point, **params) -> str:
    return url_for(endpoint, pdl=point.pdl, **{k: v for k, v in params.items() if v is not None})


def page(template: str, endpoint: str, fill):
    """A cost page of the meter asked for (the caller's own consumption points only); `fill(point)` its data."""
    point, suitable, points = choose_point("pdl", CONSUMER_KINDS)
    context = dict(point=point, suitable=suitable, points=points, endpoint=endpoint, max_polls=MAX_POLLS)
    if point is None or point.kind not in CONSUMER_KINDS:
        return render_template(template, data=None, **context)
    return render_template(template, **fill(point), **context)


def _costs(point) -> dict:
    data = costs_data(point, ask=True)
    return dict(data=data, charts=costs_charts(data),
                api_url=api_url("costs.costs_json", point, mois=data["months"], comparer=data["compare_id"]))


def _simulator(point) -> dict:
    data = simulation_data(point)
    if data["choice"].kva is None:
        ask_contract(point)
    return dict(data=data, charts=simulation_charts(data["result"]), api_url=api_url("costs.simulator_json", point))


@bp.get("/consommation-euros")
@login_required
def costs():
    return page("costs/costs.html", "costs.costs", _costs)


@bp.get("/simulateur")
@login_required
def simulator():
    return page("costs/simulator.html", "costs.simulator", _simulator)


@bp.post("/simulateur")
@login_required
def simulate():
    """Start a simulation of the point (one at a time; a double click starts one)."""
    form = SimulateForm()
    if not form.validate_on_submit():
        abort(400)
    point = own_point(form.pdl.data or "")
    if point.kind not in CONSUMER_KINDS:
        abort(404)
    c = cache()
    target = url_for("costs.simulator", pdl=point.pdl)
    if offer_choice(db(), c, point).kva is None:
        ask_contract(point)
        flash("La puissance souscrite de ce compteur n'est pas encore connue : réessayez dans quelques minutes.",
              "error")
        return redirect(target)
    progress = read_progress(c, point.user_id, point.id)
    running = progress is not None and progress["state"] in ("queued", "fetching", "waiting", "computing") \
        and not progress["stale"]
    if running or not once(settings(), simulation_claim(point.id), 30):
        flash("Une simulation de ce compteur est déjà en cours.", "info")
        return redirect(target)
    last = last_published_day().isoformat()
    set_progress(c, point.user_id, point.id, "queued", last=last)
    enqueue(celery(), tasks.SIMULATE, {"point_id": point.id, "last": last}, session=db())
    return redirect(target)


@bp.app_context_processor
def _cost_links():
    """The pages' names, for the navigation and the dashboard."""
    return {"cost_pages": (("costs.costs", "Consommation (€)"), ("costs.simulator", "Simulateur"))}
