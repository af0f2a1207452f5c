"""The plotly figure of the national consumption page (static/charts.js draws it)."""

from __future__ import annotations

from typing import Any

from models.calendar import PARIS
from models.national_consumption import NationalConsumption

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
