"""What a meter's electricity cost: the cost engine (`models.costs`) fed from PostgreSQL and the cache.

Shared by the "Consommation (€)" page and the simulator's task (`pipeline.tasks.costs`):

- `offer_choice` — the offers a meter can be priced with (the catalogue's and the household's own, at
  its subscribed power), the one the household said it has, and the one its contract suggests: the
  contract tells BASE or HC_HP by its off-peak hours, nothing more (not Tempo, EJP nor the supplier).
- `price_offers` — offers priced over a period from the cached readings, each result cached in turn
  (sealed like readings) under the digest of everything it was computed from: the readings' version
  (`EncryptedCache.readings_version`), the offer and its prices, the meter's off-peak history, the day
  calendars and the period. New readings, prices or colours make a new digest, so an answer is never
  stale; an unchanged one costs a few small queries and one cache read instead of two years of
  half-hours. Nothing here calls upstream: days not cached are returned as `missing`.
- `simulate` — every offer of the list priced over a year and ranked over the days all of them price.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from models.cache import EncryptedCache, RangeResult
from models.costs import (
    Calendars, Comparison, Consumption, Meter, NotComputable, OfferCost, OfferSpec, OffPeakHistory, compare, cost_offer,
    daily_from_cache, date_spans, from_dict, points_from_cache, to_dict,
)
from models.day_calendars import engine_calendars
from models.keys import CONTRACT, SIMULATION_PROGRESS, cost_entry
from models.offers import KVA_VALUES, Offer, get_offer, offer_spec, offers_for_kva
from models.offpeak import OffPeakParseError, parse_offpeak_hours
from models.offpeak_history import engine_meter, offpeak_history
from models.usage_points import UsagePoint

log = logging.getLogger(__name__)

# What the cached results hold; bump it when that changes (a digest of another format is another name).
COST_FORMAT = 1
CURVE, DAILY = "load_curve", "daily_consumption"


# -- the meter's offers -------------------------------------------------------------------------------------


def subscribed_kva(cache: EncryptedCache, point: UsagePoint) -> int | None:
    """The subscribed power of the point's contract, as cached (None until the contract is read)."""
    contract = cache.get(point.user_id, CONTRACT, point=point.id) or {}
    kva = contract.get("subscribed_power_kva") if isinstance(contract, dict) else None
    return kva if isinstance(kva, int) and not isinstance(kva, bool) and kva in KVA_VALUES else None


def contract_option(session: Session, cache: EncryptedCache, point: UsagePoint) -> str | None:
    """"HC_HP" when the meter's contract has off-peak hours, "BASE" when it has none, None when unknown.

    The cached contract says it; without one, the last schedule PostgreSQL recorded for the point does.
    That is all a contract tells: whether the household has Tempo, EJP, or which supplier, it does not."""
    contract = cache.get(point.user_id, CONTRACT, point=point.id)
    if isinstance(contract, dict) and "offpeak_hours" in contract:
        try:
            return "HC_HP" if parse_offpeak_hours(contract.get("offpeak_hours")) else "BASE"
        except OffPeakParseError:
            pass
    history = offpeak_history(session, point.id)
    if history:
        return "HC_HP" if history[-1].ranges else "BASE"
    return None


@dataclass
class OfferChoice:
    """The offers a meter can be priced with and which one is its own."""

    kva: int | None
    available: list[Offer]  # at the meter's kVA: the catalogue's, then the household's own
    chosen: Offer | None  # what the household said (`usage_points.offer_id`), None until it does
    suggested: Offer | None  # the catalogue's offer of the option the contract tells (BASE or HC_HP)
    option: str | None  # that option, None when the contract is not known yet

    @property
    def current(self) -> Offer | None:
        """The offer the meter is priced with: the household's word, else the contract's suggestion."""
        return self.chosen or self.suggested

    @property
    def confirmed(self) -> bool:
        return self.chosen is not None


def offer_choice(session: Session, cache: EncryptedCache, point: UsagePoint) -> OfferChoice:
    kva = subscribed_kva(cache, point)
    available = offers_for_kva(session, kva, point.user_id) if kva else []
    chosen = get_offer(session, point.offer_id, point.user_id) if point.offer_id else None
    option = contract_option(session, cache, point)
    catalogue = [o for o in available if not o.is_household and o.option == option]
    # An offer still sold first (the regulated tariff comes first among the catalogue's providers).
    suggested = next((o for o in catalogue if o.open_to_new_customers), catalogue[0] if catalogue else None)
    return OfferChoice(kva, available, chosen, suggested, option)


# -- periods --------------------------------------------------------------------------------------------------


def months_back(last: date, months: int) -> date:
    """The first day of the calendar month `months - 1` months before `last`'s: `months` months, the last one
    running to `last` (24 months to 13 March 2026 start on 1 April 2024)."""
    index = last.year * 12 + last.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def year_back(last: date) -> date:
    """The first day of the year of days ending on `last` (14 March 2025 for 13 March 2026)."""
    try:
        return last.replace(year=last.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February: the year before has none
        return date(last.year - 1, 3, 1)


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# -- pricing from the cache ---------------------------------------------------------------------------------


def series_of(point: UsagePoint) -> str:
    """The load curve when the meter records one, else daily energy (BASE only can be priced from it)."""
    return CURVE if point.load_curve_enabled else DAILY


def read_consumption(cache: EncryptedCache, point: UsagePoint, first: date, last: date) -> tuple[Consumption, RangeResult]:
    """The meter's energy over [first, last] as the engine takes it, from the cache only."""
    series = series_of(point)
    read = cache.read_range(point.user_id, point.id, series, first, last + timedelta(days=1))
    if series == CURVE:
        return Consumption.from_curve(points_from_cache(read.days), first, last), read
    return Consumption.from_daily(daily_from_cache(read.days), first, last), read


@dataclass
class Inputs:
    """What the engine needs besides the readings, read from PostgreSQL in a few queries."""

    kva: int
    first: date
    last: date
    specs: dict[int, OfferSpec]  # by offer id
    meter: Meter
    calendars: Calendars


def engine_inputs(session: Session, point: UsagePoint, kva: int, offers: Iterable[Offer], first: date,
                  last: date, cache: EncryptedCache | None = None) -> Inputs:
    specs = {o.id: offer_spec(session, o, kva) for o in offers}
    # The night of `first` belongs to the Tempo day before it (06:00–06:00): one day earlier.
    calendars = engine_calendars(session, first - timedelta(days=1), last + timedelta(days=1))
    meter = engine_meter(session, point.id, kva)
    if not meter.offpeak.entries and cache is not None:
        meter = _meter_from_contract(cache, point, kva, last) or meter
    return Inputs(kva, first, last, specs, meter, calendars)


def _meter_from_contract(cache: EncryptedCache, point: UsagePoint, kva: int, last: date) -> Meter | None:
    """No schedule recorded yet (a contract cached before the history was kept, recorded at its next
    reading): the cached contract's hours, taken as first seen the day after `last`, so every day priced
    with them says they are assumed — what recording them today would give."""
    contract = cache.get(point.user_id, CONTRACT, point=point.id)
    if not isinstance(contract, dict) or "offpeak_hours" not in contract:
        return None
    try:
        ranges = parse_offpeak_hours(contract.get("offpeak_hours"))
    except OffPeakParseError:
        return None
    return Meter(kva, OffPeakHistory(((last + timedelta(days=1), ranges),), assume_earliest=True))


def _calendars_part(calendars: Calendars) -> dict[str, Any]:
    def marked(m) -> list:
        return [sorted(d.isoformat() for d in m.days), [[a.isoformat(), b.isoformat()] for a, b in m.known]]

    return {"tempo": sorted((d.isoformat(), c) for d, c in calendars.tempo.items()),
            "ejp": marked(calendars.ejp), "sobriete": marked(calendars.sobriete)}


def inputs_digest(point: UsagePoint, inputs: Inputs, series: str, version: int, spec: OfferSpec) -> str:
    """The digest that names a result: the same inputs give the same name, any change another one."""
    parts = {
        "format": COST_FORMAT, "point": point.id, "kva": inputs.kva, "first": inputs.first.isoformat(),
        "last": inputs.last.isoformat(), "series": series, "version": version, "offer": to_dict(spec),
        "offpeak": [[d.isoformat(), [[r.start, r.end] for r in ranges]] for d, ranges in inputs.meter.offpeak.entries],
        "assume": inputs.meter.offpeak.assume_earliest, "calendars": _calendars_part(inputs.calendars),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:40]


@dataclass
class Priced:
    """Offers priced over a period: each offer's result (by offer id), and the days still to fetch."""

    first: date
    last: date
    series: str
    results: dict[int, OfferCost | NotComputable]
    missing: list[date] = field(default_factory=list)  # days of readings not cached (or not final yet)
    computed: int = 0  # how many results were computed now (the others came from the cache)
    earliest_offpeak: tuple[date, tuple] | None = None  # the first off-peak schedule known: (first seen, ranges)


def _spans_text(days: Iterable[date]) -> list[list[str]]:
    return [[a.isoformat(), b.isoformat()] for a, b in date_spans(days)]


def _days_of_spans(spans: Iterable[Sequence[str]]) -> list[date]:
    out: list[date] = []
    for a, b in spans:
        out += days_of(date.fromisoformat(a), date.fromisoformat(b))
    return out


def price_offers(session: Session, cache: EncryptedCache, point: UsagePoint, kva: int, offers: Sequence[Offer],
                 first: date, last: date) -> Priced:
    """`offers` priced for the point over [first, last], from cached results where the inputs are unchanged,
    else from the cached readings (and cached for next time). Never waits on upstream."""
    series = series_of(point)
    inputs = engine_inputs(session, point, kva, offers, first, last, cache)
    version = cache.readings_version(point.id, series)
    names = {oid: cost_entry(inputs_digest(point, inputs, series, version, spec)) for oid, spec in inputs.specs.items()}
    stored = cache.get_many(point.user_id, [(name, point.id) for name in names.values()])
    results: dict[int, OfferCost | NotComputable] = {}
    missing: set[date] | None = None
    for oid, entry in zip(names, stored):
        try:
            results[oid] = from_dict(entry["result"])
            if missing is None:
                missing = set(_days_of_spans(entry["missing"]))
        except (TypeError, KeyError, ValueError):  # absent, or of a format this release does not read
            continue
    todo = [oid for oid in names if oid not in results]
    if todo:
        consumption, read = read_consumption(cache, point, first, last)
        missing = set(read.missing)
        spans = _spans_text(missing)
        for oid in todo:
            result = cost_offer(consumption, inputs.specs[oid], inputs.meter, inputs.calendars)
            results[oid] = result
            cache.put(point.user_id, names[oid], {"result": to_dict(result), "missing": spans}, point=point.id)
    entries = inputs.meter.offpeak.entries
    return Priced(first, last, series, {oid: results[oid] for oid in names}, sorted(missing or ()), len(todo),
                  entries[0] if entries else None)


# -- the simulator ------------------------------------------------------------------------------------------


SIMULATION_FORMAT = 1


def simulate(session: Session, cache: EncryptedCache, point: UsagePoint, choice: OfferChoice, first: date,
             last: date) -> dict[str, Any]:
    """Every offer of `choice.available` priced over [first, last] from the cached readings and ranked over
    the days all of them price fully (`models.costs.compare`): the simulator's result, as JSON values.

    Offers closed to new customers (EJP) are left out, unless the household has one: nobody can switch to
    them. An offer that prices no day at all (Zen Flex while no Sobriété day is known) is set aside, listed
    with its reasons: ranked with the others, it would leave no common day to compare them on."""
    assert choice.kva is not None
    current = choice.current
    # What the household could take: offers still sold, its own, and the one it has (EJP, closed, only then).
    offers = [o for o in choice.available
              if o.open_to_new_customers or o.is_household or (current is not None and o.id == current.id)]
    closed = [o.name for o in choice.available if o not in offers]
    inputs = engine_inputs(session, point, choice.kva, offers, first, last, cache)
    consumption, read = read_consumption(cache, point, first, last)
    results = [cost_offer(consumption, inputs.specs[o.id], inputs.meter, inputs.calendars) for o in offers]
    priced, ranked, set_aside = {}, [], []
    for result in results:
        if isinstance(result, OfferCost):
            days = [d.day for d in result.days if d.fully_priced]
            priced[result.offer.key] = {"days": len(days), "first": days[0].isoformat() if days else None,
                                        "last": days[-1].isoformat() if days else None}
            if not days:
                # Not one day of the year has a price for all its energy (a calendar nobody published,
                # prices not known yet): no day could be compared with it, so it would leave the others
                # none either. It is listed apart, with its reasons.
                set_aside.append({"key": result.offer.key, "name": result.offer.name,
                                  "reasons": sorted(r.value for r in result.total.unknown_days)})
                continue
        ranked.append(result)
    comparison = compare(ranked)
    return {
        "format": SIMULATION_FORMAT,
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "first": first.isoformat(), "last": last.isoformat(), "kva": choice.kva, "curve": consumption.curve,
        "series": series_of(point), "version": cache.readings_version(point.id, series_of(point)),
        "offer_ids": sorted(o.id for o in choice.available),
        "closed": closed,
        "current": {"key": str(current.id), "confirmed": choice.confirmed} if current else None,
        "offers": {str(o.id): {"supplier": o.supplier, "household": o.is_household} for o in offers},
        "comparison": to_dict(comparison, days=False),
        "priced": priced,
        "set_aside": set_aside,
        "missing_half_hours": -(-sum(d.missing_minutes for d in consumption.days.values()) // 30),
        "missing_days": _spans_text(read.missing),
    }


def simulation_of(data: Any) -> Comparison | None:
    """The comparison of a stored simulation, None when it is not one this release reads."""
    try:
        if data.get("format") != SIMULATION_FORMAT:
            return None
        comparison = from_dict(data["comparison"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return comparison if isinstance(comparison, Comparison) else None


# -- the simulator's progress, as the page polls it ------------------------------------------------------------

RUNNING = ("queued", "fetching", "waiting", "computing")
STALE_AFTER = timedelta(minutes=15)  # a running state not updated for this long is a task that died


def set_progress(cache: EncryptedCache, user_id: int, point_id: int, state: str, *, done: int = 0, total: int = 0,
                 resume_at: datetime | None = None, message: str | None = None, last: str | None = None) -> dict:
    """Record where a point's simulation stands (sealed like readings: it says when a person asked)."""
    progress = {"state": state, "done": done, "total": total, "message": message, "last": last,
                "resume_at": resume_at.isoformat(timespec="seconds") if resume_at else None,
                "at": datetime.now(UTC).isoformat(timespec="seconds")}
    cache.put(user_id, SIMULATION_PROGRESS, progress, point=point_id)
    return progress


def read_progress(cache: EncryptedCache, user_id: int, point_id: int, now: datetime | None = None) -> dict | None:
    """Where a point's simulation stands, None when none was asked; a running state that stopped moving
    (a worker lost, no worker at all) says `stale`, so the page offers to start again."""
    progress = cache.get(user_id, SIMULATION_PROGRESS, point=point_id)
    if not isinstance(progress, dict) or progress.get("state") not in (*RUNNING, "done", "failed"):
        return None
    now = now or datetime.now(UTC)
    try:
        moved = max(datetime.fromisoformat(t) for t in (progress.get("at"), progress.get("resume_at")) if t)
    except (TypeError, ValueError):
        moved = now - STALE_AFTER - timedelta(seconds=1)
    progress["stale"] = progress["state"] in RUNNING and now - moved > STALE_AFTER
    return progress
