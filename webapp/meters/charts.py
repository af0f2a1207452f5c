"""The plotly figures of the meter pages, from what `webapp.meters.data` read (static/charts.js draws them)."""

from __future__ import annotations

from typing import Any

from models.readings import kwh, local_start
from webapp.ui import MONTHS


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
