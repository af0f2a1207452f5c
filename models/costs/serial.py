"""The engine's results as plain JSON values, and back: what the cache and the pages store.

`to_dict(result)` turns an `OfferCost`, `NotComputable`, `Comparison`, `Summary`, `DayCost`,
`OfferSpec` or `PricePeriod` into dicts, lists, strings, integers and booleans only (`json.dumps`
takes it as is); `from_dict(data)` gives back an equal object. Money travels as the `Decimal`'s
text ("0.308000"), never as a float; days as ISO dates; reasons and options as their codes.

Each dict carries its `type`, and the outermost one the format `FORMAT`: a change of layout
bumps it, and `from_dict` refuses a format it does not know (`ValueError`), which a cache
reader treats as a miss.

Compact where it counts: inside an `OfferCost` each day names its price period by its index
in the offer's periods, and lists of days (unknown Tempo days, a comparison's days) are
inclusive `[first, last]` spans. `to_dict(cost, days=False)` leaves the days out (the
simulator keeps months and totals only); such a cost comes back with `days == ()`, so its
`over()` is empty: keep the days when a page slices them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from models.costs.engine import Comparison, DayCost, NotComputable, OfferCost, Summary, date_spans
from models.costs.inputs import FixedPer, OfferSpec, OffPeakSource, Option, PricePeriod
from models.costs.reasons import Assumed, Blocked, Unpriced
from models.offpeak import OffPeakRange

FORMAT = 1

Result = OfferCost | NotComputable | Comparison | Summary | DayCost | OfferSpec | PricePeriod


def to_dict(result: Result, *, days: bool = True) -> dict[str, Any]:
    """`result` as JSON values, with the format number (`days=False`: an OfferCost's days left out)."""
    return {"format": FORMAT, **_dump(result, days)}


def from_dict(data: Mapping[str, Any]) -> Result:
    """The object `to_dict` gave; ValueError on a format or type this release does not know."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ValueError(f"not a cost result of format {FORMAT}")
    return _load(data)


def _dump(result: Result, days: bool = True) -> dict[str, Any]:
    if isinstance(result, OfferCost):
        return _offer_cost(result, days)
    if isinstance(result, NotComputable):
        return {"type": "not_computable", "offer": _offer(result.offer), "reason": result.reason.value}
    if isinstance(result, Comparison):
        return {"type": "comparison", "days": _spans(result.days),
                "ranked": [[_offer_cost(cost, days), _summary(summary)] for cost, summary in result.ranked],
                "not_computable": [_dump(n) for n in result.not_computable]}
    if isinstance(result, Summary):
        return _summary(result)
    if isinstance(result, DayCost):
        return _day(result, None)
    if isinstance(result, OfferSpec):
        return _offer(result)
    if isinstance(result, PricePeriod):
        return _period(result)
    raise TypeError(f"not a cost result: {type(result).__name__}")


def _load(data: Mapping[str, Any]) -> Result:
    kind = data.get("type")
    if kind == "offer_cost":
        return _offer_cost_of(data)
    if kind == "not_computable":
        return NotComputable(_offer_of(data["offer"]), Blocked(data["reason"]))
    if kind == "comparison":
        return Comparison(_days_of(data["days"]),
                          tuple((_offer_cost_of(c), _summary_of(s)) for c, s in data["ranked"]),
                          tuple(_load(n) for n in data["not_computable"]))
    if kind == "summary":
        return _summary_of(data)
    if kind == "day":
        return _day_of(data, None)
    if kind == "offer":
        return _offer_of(data)
    if kind == "price_period":
        return _period_of(data)
    raise ValueError(f"unknown cost result type {kind!r}")


# -- pieces ------------------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _money_of(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _spans(days: Iterable[date]) -> list[list[str]]:
    return [[a.isoformat(), b.isoformat()] for a, b in date_spans(days)]


def _days_of(spans: Iterable[list[str]]) -> tuple[date, ...]:
    out: list[date] = []
    for first, last in spans:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            out.append(day)
            day += timedelta(days=1)
    return tuple(out)


def _period(p: PricePeriod) -> dict[str, Any]:
    return {"type": "price_period", "kva": p.kva, "valid_from": p.valid_from.isoformat(),
            "valid_to": p.valid_to and p.valid_to.isoformat(), "fixed_eur": _money(p.fixed_eur),
            "fixed_per": p.fixed_per.value, "prices": {k: _money(v) for k, v in p.prices.items()},
            "ref": p.ref, "source": p.source, "status": p.status}


def _period_of(d: Mapping[str, Any]) -> PricePeriod:
    return PricePeriod(d["kva"], date.fromisoformat(d["valid_from"]),
                       date.fromisoformat(d["valid_to"]) if d["valid_to"] else None, Decimal(d["fixed_eur"]),
                       FixedPer(d["fixed_per"]), {k: Decimal(v) for k, v in d["prices"].items()},
                       d["ref"], d["source"], d["status"])


def _offer(o: OfferSpec) -> dict[str, Any]:
    return {"type": "offer", "key": o.key, "name": o.name, "option": o.option.value,
            "periods": [_period(p) for p in o.periods], "offpeak_source": o.offpeak_source.value,
            "offpeak_ranges": [[r.start, r.end] for r in o.offpeak_ranges],
            "holidays_as_weekend": o.holidays_as_weekend, "winter_months": sorted(o.winter_months)}


def _offer_of(d: Mapping[str, Any]) -> OfferSpec:
    return OfferSpec(d["key"], d["name"], Option(d["option"]), tuple(_period_of(p) for p in d["periods"]),
                     OffPeakSource(d["offpeak_source"]), tuple(OffPeakRange(a, b) for a, b in d["offpeak_ranges"]),
                     d["holidays_as_weekend"], frozenset(d["winter_months"]))


def _day(d: DayCost, periods: tuple[PricePeriod, ...] | None) -> dict[str, Any]:
    out = {"type": "day", "day": d.day.isoformat(), "minutes": d.minutes, "missing": d.missing_minutes,
           "energy": dict(d.energy), "unknown": {k.value: v for k, v in d.unknown.items()},
           "amounts": {k: _money(v) for k, v in d.amounts.items()}, "fixed": _money(d.fixed),
           "assumed": sorted(a.value for a in d.assumed)}
    if d.period is None:
        out["period"] = None
    elif periods is not None:
        out["period"] = _place(d.period, periods)  # its place among the offer's periods
    else:
        out["period"] = _period(d.period)
    return out


def _place(period: PricePeriod, periods: tuple[PricePeriod, ...]) -> int:
    # By identity first: the engine hands out the offer's own objects (a PricePeriod is not hashable).
    for i, p in enumerate(periods):
        if p is period:
            return i
    for i, p in enumerate(periods):
        if p == period:
            return i
    raise ValueError(f"a day's price period from {period.valid_from} is not among its offer's")


def _day_of(d: Mapping[str, Any], periods: tuple[PricePeriod, ...] | None) -> DayCost:
    ref = d["period"]
    period = None if ref is None else periods[ref] if periods is not None else _period_of(ref)
    return DayCost(date.fromisoformat(d["day"]), d["minutes"], d["missing"], dict(d["energy"]),
                   {Unpriced(k): v for k, v in d["unknown"].items()},
                   {k: Decimal(v) for k, v in d["amounts"].items()}, _money_of(d["fixed"]), period,
                   frozenset(Assumed(a) for a in d["assumed"]))


def _summary(s: Summary) -> dict[str, Any]:
    return {"type": "summary", "first": s.first and s.first.isoformat(), "last": s.last and s.last.isoformat(),
            "days": s.days, "minutes": s.minutes, "missing": s.missing_minutes, "energy": dict(s.energy),
            "unknown": {k.value: v for k, v in s.unknown.items()},
            "amounts": {k: _money(v) for k, v in s.amounts.items()}, "fixed": _money(s.fixed),
            "price_unknown_wmin": s.price_unknown_wmin,
            "unknown_days": {k.value: _spans(v) for k, v in s.unknown_days.items()},
            "assumed_days": {k.value: _spans(v) for k, v in s.assumed_days.items()},
            "periods": [[_period(p), n] for p, n in s.periods]}


def _summary_of(d: Mapping[str, Any]) -> Summary:
    return Summary(date.fromisoformat(d["first"]) if d["first"] else None,
                   date.fromisoformat(d["last"]) if d["last"] else None,
                   d["days"], d["minutes"], d["missing"], dict(d["energy"]),
                   {Unpriced(k): v for k, v in d["unknown"].items()},
                   {k: Decimal(v) for k, v in d["amounts"].items()}, Decimal(d["fixed"]), d["price_unknown_wmin"],
                   {Unpriced(k): _days_of(v) for k, v in d["unknown_days"].items()},
                   {Assumed(k): _days_of(v) for k, v in d["assumed_days"].items()},
                   tuple((_period_of(p), n) for p, n in d["periods"]))


def _offer_cost(c: OfferCost, days: bool) -> dict[str, Any]:
    return {"type": "offer_cost", "offer": _offer(c.offer), "kva": c.kva, "curve": c.curve,
            "days": [_day(d, c.offer.periods) for d in c.days] if days else None,
            "months": [_summary(m) for m in c.months], "total": _summary(c.total)}


def _offer_cost_of(d: Mapping[str, Any]) -> OfferCost:
    offer = _offer_of(d["offer"])
    days = tuple(_day_of(x, offer.periods) for x in d["days"]) if d["days"] is not None else ()
    return OfferCost(offer, d["kva"], d["curve"], days, tuple(_summary_of(m) for m in d["months"]),
                     _summary_of(d["total"]))
