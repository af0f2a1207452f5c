"""What the cost pages show, from the engine's results: months, days, coverage in plain French.

The pages read only PostgreSQL and the cache (`pipeline.costs.price_offers`); days not cached are
asked for as the consumption page asks (`webapp.data.request_days`, within the person's budget), and
the page says `pending` until they arrive.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

from flask import abort, request

from models.costs import (
    BUCKET_LABELS, BUCKETS, EXPLANATIONS, LABELS, Assumed, Blocked, Comparison, NotComputable, OfferCost, Summary, Unpriced,
    compare, date_spans, kwh, to_cents,
)
from models.offers import STATUS_LABELS, Offer, get_offer
from models.keys import SIMULATION, contract_claim
from models.usage_points import UsagePoint
from pipeline import queues, tasks
from pipeline.celery_app import enqueue
from pipeline.costs import OfferChoice, months_back, offer_choice, price_offers, read_progress, simulation_of, year_back
from pipeline.tasks.base import once
from webapp.clock import last_published_day
from webapp.data import cache, request_days
from webapp.db import db
from webapp.extensions import celery, settings
from webapp.inputs import MAX_ID
from webapp.ui import MONTHS, MONTHS_LONG, fr_date, fr_number

PERIODS = (12, 24)  # months a page shows; the costs are computed over the longest once, and sliced
SPANS_SHOWN = 6  # day spans listed in a coverage line before "…"


def query_int(name: str, allowed: tuple[int, ...] | None = None) -> int | None:
    """An integer query parameter: ASCII digits within an id's range (and among `allowed`), else 400."""
    text = request.args.get(name)
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or int(text) > MAX_ID:
        abort(400)
    value = int(text)
    if allowed is not None and value not in allowed:
        abort(400)
    return value


def ask_contract(point: UsagePoint) -> None:
    """The subscribed power comes with the contract: ask for it when no copy is cached (once per 10 minutes)."""
    if point.status == "active" and once(settings(), contract_claim(point.id), 600):
        enqueue(celery(), tasks.REFRESH_POINT, {"point_id": point.id}, session=db(), queue=queues.INTERACTIVE)


# -- wording --------------------------------------------------------------------------------------------------


def month_label(first: date, last: date, *, long: bool = False) -> str:
    name = (MONTHS_LONG if long else MONTHS)[first.month - 1]
    return f"{name} {first.year}"


def span_text(first: date, last: date) -> str:
    return f"le {fr_date(first)}" if first == last else f"du {fr_date(first)} au {fr_date(last)}"


def spans_text(days) -> str:
    spans = date_spans(days)
    shown = [span_text(a, b) for a, b in spans[:SPANS_SHOWN]]
    more = len(spans) - SPANS_SHOWN
    return ", ".join(shown) + (f" et {more} autre{'s' if more > 1 else ''} période{'s' if more > 1 else ''}"
                               if more > 0 else "")


def days_count(n: int) -> str:
    return f"{n} jour{'s' if n > 1 else ''}"


def price_period_line(period, days: int) -> dict[str, Any]:
    until = (period.valid_to - timedelta(days=1)) if period.valid_to else None
    when = f"du {fr_date(period.valid_from)} au {fr_date(until)}" if until else f"depuis le {fr_date(period.valid_from)}"
    fixed = f"{to_cents(period.fixed_eur)} € par {'mois' if period.fixed_per.value == 'month' else 'an'}"
    prices = [(BUCKET_LABELS.get(k, k), v.normalize()) for k, v in period.prices.items()]
    return {"when": when, "fixed": fixed.replace(".", ","), "prices": prices, "days": days,
            "status": STATUS_LABELS.get(period.status, period.status) if period.status else ""}


def coverage(total: Summary, days: tuple = (), *, offpeak_first: date | None = None,
             offpeak_label: str | None = None) -> dict[str, Any]:
    """What the figures rest on, in plain French: readings missing, days not priced and why, prices used,
    off-peak hours assumed. `days` (an offer's DayCosts) gives the dates of incomplete days."""
    lines: list[dict[str, str]] = []
    if total.missing_minutes:
        incomplete = [d.day for d in days if d.missing_minutes]
        empty = [d.day for d in days if d.missing_minutes >= d.minutes]
        text = f"{total.missing_half_hours} demi-heure{'s' if total.missing_half_hours > 1 else ''} sans relevé"
        if incomplete:
            text += f" ({days_count(len(incomplete))} incomplet{'s' if len(incomplete) > 1 else ''}"
            text += f", dont {days_count(len(empty))} sans aucun relevé" if empty else ""
            text += f" : {spans_text(incomplete)})"
        lines.append({"kind": "missing", "title": text,
                      "text": "L'énergie de ces demi-heures n'est pas connue : elle n'est pas devinée, ni comptée. "
                              "L'abonnement, lui, est compté pour chaque jour."})
    for reason, when in total.unknown_days.items():
        if reason is Unpriced.PRICE_UNKNOWN:
            wmin = total.price_unknown_wmin
            title = f"Prix inconnu : {days_count(len(when))} ({spans_text(when)})"
        else:
            wmin = total.unknown.get(reason, 0)
            title = f"{LABELS[reason][:1].upper()}{LABELS[reason][1:]} : {days_count(len(when))} ({spans_text(when)})"
        if wmin:
            title += f", {fr_number(kwh(wmin), 1)} kWh non chiffrés"
        lines.append({"kind": reason.value, "title": title, "text": EXPLANATIONS[reason]})
    for assumption, when in total.assumed_days.items():
        title = f"{LABELS[assumption][:1].upper()}{LABELS[assumption][1:]} : {days_count(len(when))} ({spans_text(when)})"
        text = EXPLANATIONS[assumption]
        if assumption is Assumed.OFFPEAK_ASSUMED and offpeak_first and offpeak_label:
            text += f" Heures creuses appliquées : {offpeak_label} (vues pour la première fois le {fr_date(offpeak_first)})."
        lines.append({"kind": assumption.value, "title": title, "text": text})
    return {"lines": lines, "complete": total.complete and not total.assumed_days,
            "periods": [price_period_line(p, n) for p, n in total.periods]}


def month_rows(result: OfferCost, months: tuple[Summary, ...], last: date) -> list[dict[str, Any]]:
    buckets = BUCKETS[result.offer.option]
    rows = []
    for m in months:
        partial = m.last is not None and m.last < _month_end(m.first)
        rows.append({
            "label": month_label(m.first, m.last, long=True) + (f" (jusqu'au {m.last.day})" if partial else ""),
            "short": month_label(m.first, m.last),
            "kwh": kwh(m.energy_wmin), "energy_eur": m.energy_eur, "fixed": m.fixed, "total": m.total_eur,
            "buckets": [{"label": BUCKET_LABELS[b], "kwh": kwh(m.energy.get(b, 0)), "eur": m.amounts.get(b, Decimal(0))}
                        for b in buckets],
            "missing_half_hours": m.missing_half_hours,
            "coverage": ([f"{m.missing_half_hours} demi-h. manquantes"] if m.missing_half_hours else [])
            + sorted(LABELS[r] for r in m.unknown_days) + (["HC supposées"] if m.assumed_days else []),
        })
    return rows


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def total_of(months: tuple[Summary, ...]) -> Summary:
    return reduce(Summary.__add__, months)


def offer_title(offer: Offer) -> str:
    return f"{offer.name} ({offer.supplier})" if offer.supplier and offer.supplier not in offer.name else offer.name


def offer_view(offer: Offer, result: OfferCost | NotComputable, months: int, last: date,
               offpeak: tuple[date, str] | None) -> dict[str, Any]:
    """One offer's costs over the last `months` months, for the page."""
    view: dict[str, Any] = {"id": offer.id, "name": offer_title(offer), "option": offer.option,
                            "household": offer.is_household}
    if isinstance(result, NotComputable):
        return view | {"computable": False, "label": result.label, "explanation": result.explanation,
                       "reason": result.reason.value}
    shown = result.months[-months:]
    total = total_of(shown)
    first = shown[0].first
    days = tuple(d for d in result.days if d.day >= first)
    return view | {
        "computable": True, "curve": result.curve, "first": first, "last": total.last, "result": result,
        "months": shown, "rows": month_rows(result, shown, last), "total": total, "days": days,
        "kwh": kwh(total.energy_wmin), "per_month": total.total_eur / len(shown),
        "buckets": [{"label": BUCKET_LABELS[b], "kwh": kwh(total.energy.get(b, 0)),
                     "eur": total.amounts.get(b, Decimal(0))} for b in BUCKETS[result.offer.option]],
        "coverage": coverage(total, days, offpeak_first=offpeak[0] if offpeak else None,
                             offpeak_label=offpeak[1] if offpeak else None),
    }


def side_by_side(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """Two offers month by month, and both over the days each prices fully (the fair comparison)."""
    if not (a.get("computable") and b.get("computable")):
        return None
    rows = []
    for ma, mb in zip(a["months"], b["months"]):
        rows.append({"label": month_label(ma.first, ma.last, long=True), "a": ma.total_eur, "b": mb.total_eur,
                     "diff": mb.total_eur - ma.total_eur})
    window = {d.day for d in a["days"]}
    fair: Comparison = compare([a["result"], b["result"]])
    common = tuple(d for d in fair.days if d in window)
    sa, sb = a["result"].over(common), b["result"].over(common)
    return {"rows": rows, "total_a": a["total"].total_eur, "total_b": b["total"].total_eur,
            "diff": b["total"].total_eur - a["total"].total_eur, "common_days": len(common),
            "common_spans": spans_text(common) if common else "", "fair_a": sa.total_eur, "fair_b": sb.total_eur,
            "fair_diff": sb.total_eur - sa.total_eur, "all_days": len(common) == len(window)}


def costs_data(point: UsagePoint, *, ask: bool) -> dict[str, Any]:
    """Everything the "Consommation (€)" page shows of one point."""
    months = query_int("mois", PERIODS) or PERIODS[0]
    compare_id = query_int("comparer")
    c = cache()
    last = last_published_day()
    choice: OfferChoice = offer_choice(db(), c, point)
    base = {"months": months, "last": last, "choice": choice, "compare_id": compare_id, "pending": False,
            "periods": PERIODS}
    if choice.kva is None:
        if ask:
            ask_contract(point)
        return base | {"status": "no_power", "pending": point.status == "active"}
    current = choice.current
    if current is None:
        return base | {"status": "no_offer"}
    other = None
    if compare_id is not None:
        other = get_offer(db(), compare_id, point.user_id)
        if other is None:  # another household's offer, or none: as if it did not exist
            abort(404)
    offers = [current] + ([other] if other is not None and other.id != current.id else [])
    first = months_back(last, PERIODS[-1])
    priced = price_offers(db(), c, point, choice.kva, offers, first, last)
    if priced.missing and ask and point.status == "active":
        request_days(point, priced.series, priced.missing)
    earliest = priced.earliest_offpeak
    offpeak = (earliest[0], " et ".join(r.label() for r in earliest[1])) if earliest and earliest[1] else None
    views = [offer_view(o, priced.results[o.id], months, last, offpeak) for o in offers]
    mine, theirs = views[0], (views[1] if len(views) > 1 else None)
    blocked = []
    if not point.load_curve_enabled:  # what the daily energy cannot price, and how to switch the curve on
        blocked = [{"name": offer_title(o), "label": LABELS[Blocked.NO_LOAD_CURVE],
                    "explanation": EXPLANATIONS[Blocked.NO_LOAD_CURVE]}
                   for o in choice.available if o.rule.needs_load_curve]
    return base | {
        "status": "ok", "pending": point.status == "active" and bool(priced.missing),
        "missing_days": len(priced.missing), "first": first, "mine": mine, "theirs": theirs,
        "side_by_side": side_by_side(mine, theirs) if theirs else None, "blocked": blocked,
        "series": priced.series, "computed": priced.computed,
        "compare_choices": [(o.id, offer_title(o)) for o in choice.available if o.id != current.id],
    }


# -- the simulator ---------------------------------------------------------------------------------------------


def simulation_data(point: UsagePoint) -> dict[str, Any]:
    """The simulator page of one point: where a simulation stands, and its last result, if any."""
    c = cache()
    last = last_published_day()
    choice = offer_choice(db(), c, point)
    progress = read_progress(c, point.user_id, point.id)
    stored = c.get(point.user_id, SIMULATION, point=point.id)
    comparison = simulation_of(stored) if stored else None
    running = progress is not None and progress["state"] in ("queued", "fetching", "waiting", "computing") \
        and not progress["stale"]
    data: dict[str, Any] = {"choice": choice, "last": last, "first": year_back(last), "progress": progress,
                            "running": running, "pending": running, "result": None}
    if comparison is not None:
        data["result"] = simulation_view(stored, comparison, choice)
        data["stale"] = (stored.get("last") != last.isoformat()
                         or stored.get("offer_ids") != sorted(o.id for o in choice.available))
    return data


def simulation_view(stored: dict[str, Any], comparison: Comparison, choice: OfferChoice) -> dict[str, Any]:
    """The ranking, savings against the current offer, each offer's breakdown and coverage warnings."""
    current_key = (stored.get("current") or {}).get("key")
    if choice.current is not None:  # the household may have confirmed another offer since
        current_key = str(choice.current.id)
    offers_info = stored.get("offers", {})
    ranked = []
    current_total = next((s.total_eur for c, s in comparison.ranked if c.offer.key == current_key), None)
    cheapest = comparison.ranked[0][1].total_eur if comparison.ranked else None
    for rank, (cost, summary) in enumerate(comparison.ranked, start=1):
        info = offers_info.get(cost.offer.key, {})
        total = cost.total
        cov = coverage(total)
        ranked.append({
            "rank": rank, "key": cost.offer.key, "name": cost.offer.name, "supplier": info.get("supplier", ""),
            "household": info.get("household", False), "current": cost.offer.key == current_key,
            "total": summary.total_eur, "fixed": summary.fixed, "energy": summary.energy_eur,
            "kwh": kwh(summary.energy_wmin),
            "saving": (current_total - summary.total_eur) if current_total is not None else None,
            "over_cheapest": summary.total_eur - cheapest if cheapest is not None else None,
            "buckets": [{"label": BUCKET_LABELS[b], "kwh": kwh(summary.energy.get(b, 0)),
                         "eur": summary.amounts.get(b, Decimal(0))} for b in BUCKETS[cost.offer.option]],
            "coverage": cov["lines"], "periods": cov["periods"],
            "priced": stored.get("priced", {}).get(cost.offer.key),
        })
    # The offer that limits the comparison most: the one pricing the fewest days of the year.
    limiting = None
    in_ranking = {c.offer.key for c, _ in comparison.ranked}
    priced = {k: v for k, v in stored.get("priced", {}).items() if k in in_ranking}
    if priced:
        key, info = min(priced.items(), key=lambda kv: (kv[1]["days"], kv[0]))
        year_days = (date.fromisoformat(stored["last"]) - date.fromisoformat(stored["first"])).days + 1
        if info["days"] < year_days:
            name = next((c.offer.name for c, _ in comparison.ranked if c.offer.key == key), key)
            limiting = {"name": name, "days": info["days"],
                        "first": date.fromisoformat(info["first"]) if info["first"] else None,
                        "last": date.fromisoformat(info["last"]) if info["last"] else None}
    return {
        "first": date.fromisoformat(stored["first"]), "last": date.fromisoformat(stored["last"]),
        "computed_at": datetime.fromisoformat(stored["computed_at"]), "kva": stored.get("kva"),
        "curve": stored.get("curve"), "ranked": ranked, "days": len(comparison.days),
        "spans": spans_text(comparison.days) if comparison.days else "",
        "current_key": current_key, "current_in_ranking": current_total is not None,
        "current_name": choice.current and offer_title(choice.current),
        "not_computable": [{"name": n.offer.name, "label": n.label, "explanation": n.explanation}
                           for n in comparison.not_computable],
        "missing_half_hours": stored.get("missing_half_hours", 0),
        "unfetched": stored.get("unfetched_windows", 0), "stopped": stored.get("fetch_stopped"),
        "limiting": limiting,
        "closed": stored.get("closed", []),
        "set_aside": [{"name": a["name"], "reasons": [LABELS[Unpriced(r)] for r in a["reasons"]],
                       "explanations": [EXPLANATIONS[Unpriced(r)] for r in a["reasons"]]}
                      for a in stored.get("set_aside", [])],
    }
