"""Public pages: Tempo, EcoWatt, national consumption, FAQ.

They read the RTE tables in PostgreSQL and need no account. The meter pages: `webapp.meters`;
filters, template globals and plotly: `webapp.ui`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select

from models.ecowatt import EcoWattSignal
from models.national_consumption import NationalConsumption
from models.tempo import TempoDay
from pipeline.tasks.rte import season_start
from webapp.clock import PARIS, month_end, now_paris
from webapp.db import db
from webapp.ui import MONTHS_LONG

bp = Blueprint("pages", __name__)

TEMPO_QUOTAS = {"RED": 22, "WHITE": 43}
COLOURS_FR = {"BLUE": "Bleu", "WHITE": "Blanc", "RED": "Rouge"}
ECOWATT_FR = {0: "Vert (bas carbone)", 1: "Vert", 2: "Orange", 3: "Rouge"}
ECOWATT_DAY_FR = {1: "Vert : pas d'alerte", 2: "Orange : système électrique tendu", 3: "Rouge : coupures possibles"}


# -- Tempo (public) -----------------------------------------------------------------------------


def tempo_season(day: date) -> tuple[date, date]:
    """[1 September, 31 August] of the Tempo season holding `day`."""
    first = season_start(day)
    return first, date(first.year + 1, 8, 31)


@bp.get("/tempo")
def tempo():
    now = now_paris()
    today = now.date()
    first, last = tempo_season(today)
    rows = db().scalars(select(TempoDay).where(TempoDay.day >= first, TempoDay.day <= last)
                        .order_by(TempoDay.day)).all()
    colours = {r.day: r.colour for r in rows}
    used = {c: sum(1 for v in colours.values() if v == c) for c in TEMPO_QUOTAS}
    remaining = {c: max(0, q - used[c]) for c, q in TEMPO_QUOTAS.items()}
    blue_total = (last - first).days + 1 - sum(TEMPO_QUOTAS.values())
    used["BLUE"] = sum(1 for v in colours.values() if v == "BLUE")
    remaining["BLUE"] = max(0, blue_total - used["BLUE"])
    # A Tempo day runs 06:00 to 06:00: before 06:00 the price in force is yesterday's colour.
    in_force_day = today - timedelta(days=1) if now.hour < 6 else today
    months = []
    m = first
    while m <= last:
        end = month_end(m.year, m.month)
        cells = [{"day": m + timedelta(days=i), "colour": colours.get(m + timedelta(days=i))}
                 for i in range((end - m).days + 1)]
        months.append({"label": f"{MONTHS_LONG[m.month - 1]} {m.year}", "offset": m.weekday(), "days": cells})
        m = end + timedelta(days=1)
    return render_template("pages/tempo.html", today=today, tomorrow=today + timedelta(days=1),
                           today_colour=colours.get(today), tomorrow_colour=colours.get(today + timedelta(days=1)),
                           in_force_day=in_force_day, in_force_colour=colours.get(in_force_day),
                           used=used, remaining=remaining, quotas={**TEMPO_QUOTAS, "BLUE": blue_total},
                           first=first, last=last, months=months, names=COLOURS_FR, known=len(colours))


# -- EcoWatt (public) ---------------------------------------------------------------------------


@bp.get("/ecowatt")
def ecowatt():
    today = now_paris().date()
    rows = db().scalars(select(EcoWattSignal).where(EcoWattSignal.day >= today,
                                                    EcoWattSignal.day <= today + timedelta(days=3))
                        .order_by(EcoWattSignal.day)).all()
    days = [{"day": r.day, "dvalue": r.dvalue, "label": ECOWATT_DAY_FR.get(r.dvalue, str(r.dvalue)),
             "message": r.message, "hours": [{"hour": h, "value": v, "label": ECOWATT_FR.get(v, str(v))}
                                             for h, v in enumerate(r.hvalues or [])]}
            for r in rows]
    return render_template("pages/ecowatt.html", days=days, today=today)


# -- national consumption (public) -------------------------------------------------------------

FRANCE_SERIES = {"REALISED": ("Réalisée", "#0b6bcb"), "ID": ("Prévision du jour", "#e8a317"),
                 "D-1": ("Prévision de la veille", "#8a63d2"), "D-2": ("Prévision à deux jours", "#9aa5b8")}


def france_charts(by_series: dict[str, list[NationalConsumption]]) -> dict[str, Any]:
    """The plotly figure of the national consumption page: each series RTE published, in GW."""
    traces = []
    for name, (label, colour) in FRANCE_SERIES.items():
        values = by_series.get(name) or []
        if not values:
            continue
        traces.append({"type": "scatter", "mode": "lines", "name": label,
                       "line": {"color": colour, "width": 2.5 if name == "REALISED" else 1.5,
                                "dash": "solid" if name == "REALISED" else "dot"},
                       "x": [v.start_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") for v in values],
                       "y": [round(v.value_mw / 1000, 2) for v in values],
                       "hovertemplate": "%{x|%d/%m %H:%M} : %{y:.1f} GW<extra>" + label + "</extra>"})
    return {"france": {"traces": traces, "layout": {"yaxis": {"title": {"text": "GW"}},
                                                    "xaxis": {"type": "date", "rangeslider": {"visible": True}}}}}


@bp.get("/france")
def france():
    today = now_paris().date()
    start = datetime.combine(today - timedelta(days=1), time(0), PARIS)
    end = datetime.combine(today + timedelta(days=2), time(0), PARIS)
    rows = db().scalars(select(NationalConsumption).where(NationalConsumption.start_at >= start,
                                                          NationalConsumption.start_at < end)
                        .order_by(NationalConsumption.series, NationalConsumption.start_at)).all()
    by_series: dict[str, list[NationalConsumption]] = {}
    for r in rows:
        by_series.setdefault(r.series, []).append(r)
    realised = by_series.get("REALISED") or []
    latest = realised[-1] if realised else None
    peak = max(realised, key=lambda r: r.value_mw) if realised else None
    charts = france_charts(by_series)
    return render_template("pages/france.html", charts=charts, has_data=bool(charts["france"]["traces"]),
                           latest=latest, peak=peak, paris=PARIS)


# -- FAQ (public) --------------------------------------------------------------------------------


@bp.get("/faq")
def faq():
    return render_template("pages/faq.html")
