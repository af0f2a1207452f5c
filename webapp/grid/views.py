"""Tempo, EcoWatt and national consumption: RTE's public data, read from PostgreSQL, no account needed."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import render_template
from sqlalchemy import select

from models.calendar import PARIS, month_end, tempo_day
from models.ecowatt import EcoWattSignal
from models.grid import tempo as tempo_rules
from models.national_consumption import NationalConsumption
from models.tempo import TempoDay
from webapp.clock import now_paris
from webapp.db import db
from webapp.grid import bp
from webapp.grid.charts import france_charts
from webapp.ui import MONTHS_LONG

COLOURS_FR = {"BLUE": "Bleu", "WHITE": "Blanc", "RED": "Rouge"}
ECOWATT_FR = {0: "Vert (bas carbone)", 1: "Vert", 2: "Orange", 3: "Rouge"}
ECOWATT_DAY_FR = {1: "Vert : pas d'alerte", 2: "Orange : système électrique tendu", 3: "Rouge : coupures possibles"}


# -- Tempo -------------------------------------------------------------------------------------


@bp.get("/tempo")
def tempo():
    now = now_paris()
    today = now.date()
    first, last = tempo_rules.season(today)
    rows = db().scalars(select(TempoDay).where(TempoDay.day >= first, TempoDay.day <= last)
                        .order_by(TempoDay.day)).all()
    colours = {r.day: r.colour for r in rows}
    corrected = sorted(r.day for r in rows if r.corrected)  # an administrator's correction is shown as one
    count = tempo_rules.count_season(first, last, colours.values())
    in_force_day = tempo_day(now)  # before 06:00 the price in force is yesterday's colour
    months = []
    m = first
    while m <= last:
        end = month_end(m.year, m.month)
        cells = [{"day": m + timedelta(days=i), "colour": colours.get(m + timedelta(days=i))}
                 for i in range((end - m).days + 1)]
        months.append({"label": f"{MONTHS_LONG[m.month - 1]} {m.year}", "offset": m.weekday(), "days": cells})
        m = end + timedelta(days=1)
    return render_template("grid/tempo.html", today=today, tomorrow=today + timedelta(days=1),
                           today_colour=colours.get(today), tomorrow_colour=colours.get(today + timedelta(days=1)),
                           in_force_day=in_force_day, in_force_colour=colours.get(in_force_day),
                           used=count.used, remaining=count.remaining, quotas=count.quotas,
                           first=first, last=last, months=months, names=COLOURS_FR, known=len(colours),
                           corrected=corrected)


# -- EcoWatt -----------------------------------------------------------------------------------


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
    return render_template("grid/ecowatt.html", days=days, today=today)


# -- national consumption ----------------------------------------------------------------------


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
    return render_template("grid/france.html", charts=charts, has_data=bool(charts["france"]["traces"]),
                           latest=latest, peak=peak, paris=PARIS)
