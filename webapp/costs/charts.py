"""The plotly figures of the cost pages (static/charts.js draws them, as on the meter pages).

Euros are rounded to the cent for the charts only; the tables print the same figures. An offer's name
may be a household's own text: plotly reads a few HTML tags in labels, so names go in escaped (it shows
the entities as the characters they stand for).
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from models.costs import BUCKETS, BUCKET_LABELS, to_cents

FIXED_COLOUR = "#8a94a6"
# One colour per bucket, by its name: off-peak hours light, peak hours dark; Tempo in its colours.
COLOURS = {
    "base": "#0b6bcb", "hc": "#6fa8dc", "hp": "#0b4f9c",
    "tempo_blue_hc": "#7fa7e0", "tempo_blue_hp": "#1f5fbf", "tempo_white_hc": "#d9dde6",
    "tempo_white_hp": "#9aa3b5", "tempo_red_hc": "#e57373", "tempo_red_hp": "#c62828",
    "ejp_normal": "#0b6bcb", "ejp_peak": "#c62828", "base_weekday": "#0b4f9c", "base_weekend": "#6fa8dc",
    "hc_weekday": "#6fa8dc", "hp_weekday": "#0b4f9c", "weekend_all_day": "#1a7f37",
    "hc_winter": "#6fa8dc", "hp_winter": "#0b4f9c", "hc_summer": "#f2c36b", "hp_summer": "#e8a317",
    "eco_hc": "#6fa8dc", "eco_hp": "#0b4f9c", "sobriete_hc": "#e57373", "sobriete_hp": "#c62828",
}


def _eur(value) -> float:
    return float(to_cents(Decimal(value)))


def _stack(x: list[str], buckets: tuple[str, ...], amounts: list, fixed: list, fixed_name: str) -> list[dict]:
    traces = [{"type": "bar", "name": f"{BUCKET_LABELS[b]} (€)", "x": x, "y": [_eur(a.get(b, 0)) for a in amounts],
               "marker": {"color": COLOURS.get(b, "#0b6bcb")}, "hovertemplate": "%{y:.2f} €"} for b in buckets]
    traces.append({"type": "bar", "name": fixed_name, "x": x, "y": [_eur(f or 0) for f in fixed],
                   "marker": {"color": FIXED_COLOUR}, "hovertemplate": "%{y:.2f} €"})
    return traces


def costs_charts(data: dict[str, Any]) -> dict[str, Any]:
    """Months and days of the household's offer (the fixed part a trace of its own), and the comparison."""
    mine = data.get("mine")
    if not mine or not mine.get("computable"):
        return {}
    buckets = BUCKETS[mine["result"].offer.option]
    months = mine["months"]
    days = mine["days"]
    charts: dict[str, Any] = {
        "cost_months": {
            "traces": _stack([r["short"] for r in mine["rows"]], buckets, [m.amounts for m in months],
                             [m.fixed for m in months], "Abonnement (€)"),
            "layout": {"barmode": "stack", "yaxis": {"title": {"text": "€ TTC"}}},
        },
        "cost_days": {
            "traces": _stack([d.day.isoformat() for d in days], buckets, [d.amounts for d in days],
                             [d.fixed for d in days], "Abonnement (€ par jour)"),
            "layout": {"barmode": "stack", "bargap": 0, "yaxis": {"title": {"text": "€ TTC"}},
                       "xaxis": {"type": "date", "rangeslider": {"visible": True}}},
        },
    }
    both = data.get("side_by_side")
    if both:
        x = [r["label"] for r in both["rows"]]
        bars = ((mine["name"], "a", "#0b6bcb"), (data["theirs"]["name"], "b", "#e8a317"))
        charts["cost_compare"] = {
            "traces": [{"type": "bar", "name": escape(name, quote=False), "x": x,
                        "y": [_eur(r[side]) for r in both["rows"]], "marker": {"color": colour}}
                       for name, side, colour in bars],
            "layout": {"barmode": "group", "yaxis": {"title": {"text": "€ TTC par mois"}}},
        }
    return charts


def simulation_charts(result: dict[str, Any] | None) -> dict[str, Any]:
    """The ranking as horizontal bars: energy and fixed part of each offer over the compared days."""
    if not result or not result["ranked"]:
        return {}
    ranked = list(reversed(result["ranked"]))  # the cheapest on top
    names = [escape(f"{r['rank']}. {r['name']}", quote=False) for r in ranked]
    return {"ranking": {
        "traces": [{"type": "bar", "orientation": "h", "name": "Énergie (€)", "y": names,
                    "x": [_eur(r["energy"]) for r in ranked], "marker": {"color": "#0b6bcb"}},
                   {"type": "bar", "orientation": "h", "name": "Abonnement (€)", "y": names,
                    "x": [_eur(r["fixed"]) for r in ranked], "marker": {"color": FIXED_COLOUR}}],
        "layout": {"barmode": "stack", "hovermode": "y unified", "margin": {"l": 260, "t": 20, "r": 20, "b": 40},
                   "xaxis": {"title": {"text": "€ TTC sur la période comparée"}},
                   "height": 120 + 36 * len(ranked)},
    }}
