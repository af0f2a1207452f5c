"""What the meter pages read: the point asked for (only the caller's own), its readings from the cache.

Only the cache is read: a missing day is asked for through `request_days()` (an interactive
fetch, deduplicated) and the data says `pending` until the worker has written it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import request

from models.calendar import month_end, same_day_last_year
from models.cache import RangeResult
from models.keys import CONTRACT
from models.offpeak import OffPeakParseError, parse_offpeak_hours
from models.readings import DailyTotals, daily_balance, daily_wh, kwh, load_curve_points, split_offpeak
from models.series import CONSUMER_KINDS, SERIES_OF
from models.usage_points import UsagePoint
from webapp.clock import last_published_day
from webapp.data import cache, own_point, own_points, request_days
from webapp.ui import MONTHS

DAILY_DAYS = 30


def parse_day(text: str | None, default: date, lowest: date, highest: date) -> date:
    try:
        day = date.fromisoformat(text) if text else default
    except ValueError:
        return default
    return min(max(day, lowest), highest)


def choose_point(param: str, kinds: tuple[str, ...]) -> tuple[UsagePoint | None, list[UsagePoint], list[UsagePoint]]:
    """(the point shown, the user's suitable points, all the user's points); 404 for a PDL not the user's."""
    points = own_points()
    suitable = [p for p in points if p.kind in kinds]
    pdl = request.args.get(param)
    if pdl:
        return own_point(pdl), suitable, points
    return (suitable[0] if suitable else None), suitable, points


def absent(result: RangeResult) -> list[date]:
    """The days of a read that are not cached at all (those cached but not final yet are shown as they are)."""
    partial = set(result.partial)
    return [d for d in result.missing if d not in partial] if partial else result.missing


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

    # Everything from the cache in one round trip (which renews what it finds and marks the point used):
    # daily energy of this year and last, the load curve of the chosen day or week, the daily maximum
    # power of the last 30 days, the contract.
    start = max(date(last.year - 1, 1, 1), floor)
    first30 = last - timedelta(days=DAILY_DAYS - 1)
    curve_first = day - timedelta(days=6) if view == "semaine" else day
    spans = {"daily": (point.id, series["daily"], start, last + timedelta(days=1))}
    if point.load_curve_enabled:
        spans["curve"] = (point.id, series["curve"], curve_first, day + timedelta(days=1))
    if series["max"]:
        spans["max"] = (point.id, series["max"], max(first30, floor), last + timedelta(days=1))
    entries = [(CONTRACT, point.id)] if kind == "consumption" else []
    found, singles = c.read_ranges(uid, list(spans.values()), entries)
    read = dict(zip(spans, found))
    contract = singles[0] if entries else None
    for role, result in read.items():
        # Days cached but not final yet are shown; the refresh passes fetch them again (once a day).
        missing[series[role]] = absent(result)
    daily = read["daily"]
    days = daily.days

    d_labels = [(first30 + timedelta(days=i)) for i in range(DAILY_DAYS)]
    d_values = [kwh(daily_wh(days.get(d))) for d in d_labels]
    totals = DailyTotals(days, start, last)
    total30, absent30 = totals.sum(first30, last)

    months = []
    for m in range(1, 13):
        cur_first, cur_last = date(last.year, m, 1), min(month_end(last.year, m), last)
        prev_first, prev_last = date(last.year - 1, m, 1), month_end(last.year - 1, m)
        cur = totals.sum(cur_first, cur_last)[0] if cur_first <= last else None
        prev = totals.sum(prev_first, prev_last)[0]
        change = round((cur - prev) / prev * 100) if cur is not None and prev and cur_last == month_end(last.year, m) else None
        months.append({"label": MONTHS[m - 1], "current": kwh(cur), "previous": kwh(prev), "change": change})
    ytd, ytd_absent = totals.sum(date(last.year, 1, 1), last)
    prev_ytd, _ = totals.sum(date(last.year - 1, 1, 1), same_day_last_year(last))
    prev_year, _ = totals.sum(date(last.year - 1, 1, 1), date(last.year - 1, 12, 31))

    # Load curve of the chosen day or week.
    curve_points: list[dict[str, Any]] = []
    if point.load_curve_enabled:
        curve_points = load_curve_points(read["curve"].days)

    # Off-peak split (consumption: from the contract's off-peak hours).
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
        mp = read["max"]
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


def balance_data(consumer: UsagePoint, producer: UsagePoint, *, ask: bool) -> dict[str, Any]:
    """Daily consumption of one point against daily production of another (or the same, self-consumption)."""
    c = cache()
    last = last_published_day()
    first = last - timedelta(days=DAILY_DAYS - 1)
    end = last + timedelta(days=1)
    (cons, prod), _ = c.read_ranges(consumer.user_id, [(consumer.id, "daily_consumption", first, end),
                                                       (producer.id, "daily_production", first, end)])
    pending = False
    # Only ask for a series a point is known to carry: asking a consumption point for
    # production would be ERR0069 (the self-consumption point's production comes with its consumption).
    for point, name, result in ((consumer, "daily_consumption", cons), (producer, "daily_production", prod)):
        if point.kind in SERIES_OF and SERIES_OF[point.kind]["daily"] == name and absent(result):
            if point.status == "active":
                pending = True
                if ask:
                    request_days(point, name, absent(result))
    labels = [first + timedelta(days=i) for i in range(DAILY_DAYS)]
    c_wh = [daily_wh(cons.days.get(d)) for d in labels]
    p_wh = [daily_wh(prod.days.get(d)) for d in labels]
    totals = daily_balance(c_wh, p_wh)
    return {"pending": pending, "first": first, "last": last, "days": totals.days,
            "consumption_kwh": kwh(totals.consumed), "production_kwh": kwh(totals.produced),
            "surplus_kwh": kwh(totals.surplus), "deficit_kwh": kwh(totals.deficit),
            "coverage": round(totals.produced / totals.consumed * 100) if totals.consumed else None,
            # What the chart draws (balance_charts).
            "chart_data": {"days": labels, "consumption_wh": c_wh, "production_wh": p_wh}}


def balance_points() -> tuple[UsagePoint | None, UsagePoint | None, list[UsagePoint], list[UsagePoint]]:
    points = own_points()
    consumers = [p for p in points if p.kind in CONSUMER_KINDS]
    producers = [p for p in points if p.kind == "production"]
    conso = own_point(request.args["conso"]) if request.args.get("conso") else (consumers[0] if consumers else None)
    prod = own_point(request.args["prod"]) if request.args.get("prod") else (producers[0] if producers else None)
    if prod is None and conso is not None:
        # A self-consumption point carries its production too: use it when some is cached.
        probe = cache().read_range(conso.user_id, conso.id, "daily_production",
                                   last_published_day() - timedelta(days=DAILY_DAYS - 1),
                                   last_published_day() + timedelta(days=1))
        if any(daily_wh(v) is not None for v in probe.days.values()):
            prod = conso
    return conso, prod, consumers, producers
