"""Data pages: consumption, production, balance, Tempo, EcoWatt, national consumption, FAQ.

Personal pages (consumption, production, balance) need a login and read only the cache:
a missing day is asked for through `request_days()` (an interactive fetch, deduplicated)
and the page says it is on its way; its script polls the JSON twin of the page every 5 s
while `pending` is true and redraws. Public pages (Tempo, EcoWatt, France, FAQ) read the
RTE tables in PostgreSQL and need no account. Filters, template globals and plotly: `webapp.ui`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from models.ecowatt import EcoWattSignal
from models.national_consumption import NationalConsumption
from models.offpeak import OffPeakParseError, OffPeakRange, offpeak_minutes, parse_offpeak_hours
from models.tempo import TempoDay
from models.usage_points import UsagePoint
from pipeline.tasks.rte import season_start
from webapp.clock import PARIS, last_published_day, month_end, now_paris
from webapp.data import cache, own_point, own_points, request_days
from webapp.db import db
from webapp.ui import MONTHS, MONTHS_LONG, api_login_required

bp = Blueprint("pages", __name__)

DAILY_DAYS = 30
TEMPO_QUOTAS = {"RED": 22, "WHITE": 43}
COLOURS_FR = {"BLUE": "Bleu", "WHITE": "Blanc", "RED": "Rouge"}
ECOWATT_FR = {0: "Vert (bas carbone)", 1: "Vert", 2: "Orange", 3: "Rouge"}
ECOWATT_DAY_FR = {1: "Vert : pas d'alerte", 2: "Orange : système électrique tendu", 3: "Rouge : coupures possibles"}

# What each page reads, by point kind.
SERIES_OF = {
    "consumption": {"daily": "daily_consumption", "curve": "load_curve", "max": "max_power"},
    "production": {"daily": "daily_production", "curve": "production_load_curve", "max": None},
}
CONSUMER_KINDS = ("consumption", "unknown")  # an unknown point is tried as consumption first


# -- small helpers ------------------------------------------------------------------------


def kwh(wh: float | None) -> float | None:
    return None if wh is None else round(wh / 1000, 3)


def parse_day(text: str | None, default: date, lowest: date, highest: date) -> date:
    try:
        day = date.fromisoformat(text) if text else default
    except ValueError:
        return default
    return min(max(day, lowest), highest)


def same_day_last_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return date(day.year - 1, 2, 28)


# -- pure computations (unit-tested) ---------------------------------------------------------


def local_start(point: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(point["start"]).astimezone(PARIS)


def split_offpeak(curve: list[dict[str, Any]], ranges: tuple[OffPeakRange, ...]) -> tuple[float, float]:
    """(off-peak Wh, peak Wh) of load-curve points, an interval shared pro rata of its minutes."""
    off = peak = 0.0
    for point in curve:
        minutes = int(point.get("minutes") or 30)
        wh = float(point["wh"])
        share = offpeak_minutes(ranges, local_start(point), minutes) / minutes if ranges else 0.0
        off += wh * share
        peak += wh * (1 - share)
    return off, peak


def daily_wh(value: Any) -> float | None:
    """Wh of a cached daily entry ({"day", "value"}), None for a known gap."""
    if isinstance(value, dict) and value.get("value") is not None:
        return float(value["value"])
    return None


def sum_days(days: dict[date, Any], first: date, last: date) -> tuple[float | None, int]:
    """Total Wh over [first, last] and how many of those days have no value."""
    total, seen, absent = 0.0, 0, 0
    day = first
    while day <= last:
        wh = daily_wh(days.get(day))
        if wh is None:
            absent += 1
        else:
            total += wh
            seen += 1
        day += timedelta(days=1)
    return (total if seen else None), absent



# -- choosing the point -------------------------------------------------------------------------


def choose_point(param: str, kinds: tuple[str, ...]) -> tuple[UsagePoint | None, list[UsagePoint], list[UsagePoint]]:
    """(the point shown, the user's suitable points, all the user's points); 404 for a PDL not the user's."""
    points = own_points()
    suitable = [p for p in points if p.kind in kinds]
    pdl = request.args.get(param)
    if pdl:
        return own_point(pdl), suitable, points
    return (suitable[0] if suitable else None), suitable, points


# -- consumption / production ----------------------------------------------------------------


def meter_data(point: UsagePoint, kind: str, *, ask: bool) -> dict[str, Any]:
    """Everything the consumption or production page shows for one point, from the cache."""
    series = SERIES_OF[kind]
    c = cache()
    uid = point.user_id
    last = last_published_day()
    floor = point.activation_date or date(last.year - 1, 1, 1)
    view = "semaine" if request.args.get("vue") == "semaine" else "jour"
    day = parse_day(request.args.get("jour"), last, last - timedelta(days=730), last)
    missing: dict[str, list[date]] = {}

    # Daily energy: this year and last, in one read.
    start = max(date(last.year - 1, 1, 1), floor)
    daily = c.read_range(uid, point.pdl, series["daily"], start, last + timedelta(days=1))
    missing[series["daily"]] = daily.missing
    days = daily.days

    first30 = last - timedelta(days=DAILY_DAYS - 1)
    d_labels = [(first30 + timedelta(days=i)) for i in range(DAILY_DAYS)]
    d_values = [kwh(daily_wh(days.get(d))) for d in d_labels]
    total30, absent30 = sum_days(days, first30, last)

    months = []
    for m in range(1, 13):
        cur_first, cur_last = date(last.year, m, 1), min(month_end(last.year, m), last)
        prev_first, prev_last = date(last.year - 1, m, 1), month_end(last.year - 1, m)
        cur = sum_days(days, cur_first, cur_last)[0] if cur_first <= last else None
        prev = sum_days(days, prev_first, prev_last)[0]
        change = round((cur - prev) / prev * 100) if cur is not None and prev and cur_last == month_end(last.year, m) else None
        months.append({"label": MONTHS[m - 1], "current": kwh(cur), "previous": kwh(prev), "change": change})
    ytd, ytd_absent = sum_days(days, date(last.year, 1, 1), last)
    prev_ytd, _ = sum_days(days, date(last.year - 1, 1, 1), same_day_last_year(last))
    prev_year, _ = sum_days(days, date(last.year - 1, 1, 1), date(last.year - 1, 12, 31))

    # Load curve of the chosen day or week.
    curve_points: list[dict[str, Any]] = []
    curve_first = day - timedelta(days=6) if view == "semaine" else day
    if point.load_curve_enabled:
        curve = c.read_range(uid, point.pdl, series["curve"], curve_first, day + timedelta(days=1))
        missing[series["curve"]] = curve.missing
        for d in sorted(curve.days):
            curve_points.extend(curve.days[d] or [])
        curve_points.sort(key=lambda p: p["start"])

    # Off-peak split (consumption: from the contract's off-peak hours).
    contract = c.get(uid, "contract", pdl=point.pdl) if kind == "consumption" else None
    offpeak: dict[str, Any] = {"status": "none"}
    if kind == "consumption":
        if not point.load_curve_enabled:
            offpeak = {"status": "no_curve"}
        elif contract is None:
            offpeak = {"status": "no_contract"}
        else:
            try:
                ranges = parse_offpeak_hours(contract.get("offpeak_hours"))
            except OffPeakParseError:
                ranges = None
            if ranges is None:
                offpeak = {"status": "unreadable", "text": contract.get("offpeak_hours")}
            elif not ranges:
                offpeak = {"status": "single_rate"}
            elif not curve_points:
                offpeak = {"status": "no_data", "label": " et ".join(r.label() for r in ranges)}
            else:
                off, peak = split_offpeak(curve_points, ranges)
                total = off + peak
                offpeak = {"status": "ok", "label": " et ".join(r.label() for r in ranges),
                           "offpeak_kwh": kwh(off), "peak_kwh": kwh(peak),
                           "offpeak_share": round(off / total * 100) if total else None}

    # Daily max power against the subscribed power.
    max_power = mp_va = None
    if series["max"]:
        mp = c.read_range(uid, point.pdl, series["max"], max(first30, floor), last + timedelta(days=1))
        missing[series["max"]] = mp.missing
        subscribed = (contract or {}).get("subscribed_power_kva")
        va = [(mp.days.get(d) or {}).get("va") for d in d_labels]
        known = [v for v in va if v is not None]
        max_power = {"subscribed_kva": subscribed, "highest_va": max(known) if known else None,
                     "highest_share": round(max(known) / (subscribed * 1000) * 100) if known and subscribed else None}
        mp_va = va

    if ask and point.status == "active":
        for name, days_missing in missing.items():
            if days_missing:
                request_days(point, name, days_missing)
    pending = point.status == "active" and any(missing.values())

    return {
        "pdl": point.pdl, "kind": kind, "pending": pending, "day": day, "view": view, "last": last,
        "curve_first": curve_first, "curve_points": len(curve_points),
        "total30_kwh": kwh(total30), "absent30": absent30,
        "months": months, "year": last.year,
        "ytd_kwh": kwh(ytd), "ytd_absent": ytd_absent, "prev_ytd_kwh": kwh(prev_ytd), "prev_year_kwh": kwh(prev_year),
        "offpeak": offpeak, "max_power": max_power, "contract": contract,
        "load_curve_enabled": point.load_curve_enabled,
        # What the charts draw (meter_charts).
        "chart_data": {"days": d_labels, "daily_kwh": d_values, "curve": curve_points, "max_va": mp_va},
    }


def meter_charts(data: dict[str, Any]) -> dict[str, Any]:
    """The plotly figures of a consumption or production page, from what `meter_data` read."""
    kind, last, months, max_power = data["kind"], data["last"], data["months"], data["max_power"]
    drawn = data["chart_data"]
    d_labels, d_values, curve_points, mp_va = drawn["days"], drawn["daily_kwh"], drawn["curve"], drawn["max_va"]
    unit = "consommée" if kind == "consumption" else "produite"
    charts: dict[str, Any] = {
        "daily": {
            "traces": [{"type": "bar", "name": f"Énergie {unit} (kWh)", "x": [d.isoformat() for d in d_labels],
                        "y": d_values, "marker": {"color": "#0b6bcb" if kind == "consumption" else "#e8a317"},
                        "hovertemplate": "%{x|%d/%m/%Y} : %{y:.2f} kWh<extra></extra>"}],
            "layout": {"yaxis": {"title": {"text": "kWh"}}, "xaxis": {"type": "date"}},
        },
        "months": {
            "traces": [
                {"type": "bar", "name": str(last.year - 1), "x": list(MONTHS), "y": [m["previous"] for m in months],
                 "marker": {"color": "#b8c4d9"}},
                {"type": "bar", "name": str(last.year), "x": list(MONTHS), "y": [m["current"] for m in months],
                 "marker": {"color": "#0b6bcb" if kind == "consumption" else "#e8a317"}},
            ],
            "layout": {"barmode": "group", "yaxis": {"title": {"text": "kWh"}}},
        },
    }
    if data["load_curve_enabled"]:
        charts["curve"] = {
            "traces": [{"type": "scatter", "mode": "lines", "line": {"shape": "hv", "width": 1.5},
                        "name": "Puissance moyenne (W)",
                        "x": [local_start(p).strftime("%Y-%m-%d %H:%M") for p in curve_points],
                        "y": [p["watts"] for p in curve_points],
                        "hovertemplate": "%{x|%d/%m %H:%M} : %{y} W<extra></extra>"}],
            "layout": {"yaxis": {"title": {"text": "W"}}, "xaxis": {"type": "date", "rangeslider": {"visible": True}},
                       "dragmode": "zoom"},
        }
    if max_power is not None:
        traces = [{"type": "scatter", "mode": "lines+markers", "name": "Puissance maximale du jour (kVA)",
                   "x": [d.isoformat() for d in d_labels],
                   "y": [None if v is None else round(v / 1000, 2) for v in mp_va]}]
        if max_power["subscribed_kva"]:
            traces.append({"type": "scatter", "mode": "lines", "name": "Puissance souscrite (kVA)",
                           "x": [d_labels[0].isoformat(), d_labels[-1].isoformat()],
                           "y": [max_power["subscribed_kva"]] * 2, "line": {"dash": "dash", "color": "#b42318"}})
        charts["max_power"] = {"traces": traces, "layout": {"yaxis": {"title": {"text": "kVA"}, "rangemode": "tozero"}}}
    return charts


def meter_page(kind: str):
    kinds = CONSUMER_KINDS if kind == "consumption" else ("production",)
    point, suitable, points = choose_point("pdl", kinds)
    endpoint = "pages.consumption" if kind == "consumption" else "pages.production"
    context = dict(kind=kind, point=point, suitable=suitable, points=points, endpoint=endpoint,
                   title="Consommation" if kind == "consumption" else "Production")
    if point is None or point.kind not in kinds:
        return render_template("pages/meter.html", data=None, **context)
    data = meter_data(point, kind, ask=True)
    api = url_for("pages.consumption_json" if kind == "consumption" else "pages.production_json",
                  pdl=point.pdl, jour=data["day"].isoformat(),
                  vue=data["view"])
    return render_template("pages/meter.html", data=data, charts=meter_charts(data), api_url=api, **context)


def meter_json(kind: str):
    kinds = CONSUMER_KINDS if kind == "consumption" else ("production",)
    pdl = request.args.get("pdl")
    if not pdl:
        abort(400)
    point = own_point(pdl)
    if point.kind not in kinds:
        return jsonify(error="wrong point kind", kind=point.kind), 409
    data = meter_data(point, kind, ask=False)
    summary = render_template("pages/_meter_summary.html", data=data, kind=kind, point=point)
    return jsonify(pending=data["pending"], charts=meter_charts(data), summary_html=summary)


@bp.get("/consommation")
@login_required
def consumption():
    return meter_page("consumption")


@bp.get("/production")
@login_required
def production():
    return meter_page("production")


@bp.get("/api/ui/consommation.json")
@api_login_required
def consumption_json():
    return meter_json("consumption")


@bp.get("/api/ui/production.json")
@api_login_required
def production_json():
    return meter_json("production")


# -- balance -------------------------------------------------------------------------------


def balance_data(consumer: UsagePoint, producer: UsagePoint, *, ask: bool) -> dict[str, Any]:
    """Daily consumption of one point against daily production of another (or the same, self-consumption)."""
    c = cache()
    last = last_published_day()
    first = last - timedelta(days=DAILY_DAYS - 1)
    end = last + timedelta(days=1)
    cons = c.read_range(consumer.user_id, consumer.pdl, "daily_consumption", first, end)
    prod = c.read_range(producer.user_id, producer.pdl, "daily_production", first, end)
    pending = False
    # Only ask for a series a point is known to carry: asking a consumption point for
    # production would be ERR0069 (the self-consumption point's production comes with its consumption).
    for point, name, result in ((consumer, "daily_consumption", cons), (producer, "daily_production", prod)):
        if point.kind in SERIES_OF and SERIES_OF[point.kind]["daily"] == name and result.missing:
            if point.status == "active":
                pending = True
                if ask:
                    request_days(point, name, result.missing)
    labels = [first + timedelta(days=i) for i in range(DAILY_DAYS)]
    c_wh = [daily_wh(cons.days.get(d)) for d in labels]
    p_wh = [daily_wh(prod.days.get(d)) for d in labels]
    both = [(a, b) for a, b in zip(c_wh, p_wh) if a is not None and b is not None]
    total_c = sum(a for a, _ in both) if both else None
    total_p = sum(b for _, b in both) if both else None
    surplus = sum(max(0.0, b - a) for a, b in both) if both else None
    deficit = sum(max(0.0, a - b) for a, b in both) if both else None
    return {"pending": pending, "first": first, "last": last, "days": len(both),
            "consumption_kwh": kwh(total_c), "production_kwh": kwh(total_p),
            "surplus_kwh": kwh(surplus), "deficit_kwh": kwh(deficit),
            "coverage": round(total_p / total_c * 100) if total_c else None,
            # What the chart draws (balance_charts).
            "chart_data": {"days": labels, "consumption_wh": c_wh, "production_wh": p_wh}}


def balance_charts(data: dict[str, Any]) -> dict[str, Any]:
    """The plotly figure of the balance page, from what `balance_data` read."""
    drawn = data["chart_data"]
    labels, c_wh, p_wh = drawn["days"], drawn["consumption_wh"], drawn["production_wh"]
    charts = {
        "balance": {
            "traces": [
                {"type": "bar", "name": "Consommation (kWh)", "x": [d.isoformat() for d in labels],
                 "y": [kwh(v) for v in c_wh], "marker": {"color": "#0b6bcb"}},
                {"type": "bar", "name": "Production (kWh)", "x": [d.isoformat() for d in labels],
                 "y": [kwh(v) for v in p_wh], "marker": {"color": "#e8a317"}},
                {"type": "scatter", "mode": "lines+markers", "name": "Production − consommation (kWh)",
                 "x": [d.isoformat() for d in labels],
                 "y": [None if a is None or b is None else kwh(b - a) for a, b in zip(c_wh, p_wh)],
                 "line": {"color": "#1a7f37"}},
            ],
            "layout": {"barmode": "group", "yaxis": {"title": {"text": "kWh"}}, "xaxis": {"type": "date"}},
        },
    }
    return charts


def balance_points() -> tuple[UsagePoint | None, UsagePoint | None, list[UsagePoint], list[UsagePoint]]:
    points = own_points()
    consumers = [p for p in points if p.kind in CONSUMER_KINDS]
    producers = [p for p in points if p.kind == "production"]
    conso = own_point(request.args["conso"]) if request.args.get("conso") else (consumers[0] if consumers else None)
    prod = own_point(request.args["prod"]) if request.args.get("prod") else (producers[0] if producers else None)
    if prod is None and conso is not None:
        # A self-consumption point carries its production too: use it when some is cached.
        probe = cache().read_range(conso.user_id, conso.pdl, "daily_production",
                                   last_published_day() - timedelta(days=DAILY_DAYS - 1),
                                   last_published_day() + timedelta(days=1))
        if any(daily_wh(v) is not None for v in probe.days.values()):
            prod = conso
    return conso, prod, consumers, producers


@bp.get("/bilan")
@login_required
def balance():
    conso, prod, consumers, producers = balance_points()
    context = dict(conso=conso, prod=prod, consumers=consumers, producers=producers, points=own_points())
    if conso is None or prod is None:
        return render_template("pages/balance.html", data=None, **context)
    data = balance_data(conso, prod, ask=True)
    api = url_for("pages.balance_json", conso=conso.pdl, prod=prod.pdl)
    return render_template("pages/balance.html", data=data, charts=balance_charts(data), api_url=api, **context)


@bp.get("/api/ui/bilan.json")
@api_login_required
def balance_json():
    if not request.args.get("conso") or not request.args.get("prod"):
        abort(400)
    conso, prod = own_point(request.args["conso"]), own_point(request.args["prod"])
    data = balance_data(conso, prod, ask=False)
    summary = render_template("pages/_balance_summary.html", data=data)
    return jsonify(pending=data["pending"], charts=balance_charts(data), summary_html=summary)


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
