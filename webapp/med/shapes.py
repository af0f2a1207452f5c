"""MyElectricalData's bodies, built from what Relevé caches: pure functions, no request, no database.

The shapes and their conventions are those of `docs/compat-api.md` (read from the clients'
code): Enedis v5 JSON with string values for v1, the `{success, data, error, timestamp}`
envelope for v2. Relevé caches normalised readings (`pipeline.clients.enedis`: Wh, W, VA,
interval *starts*, aware Paris times); these functions turn them back into what the clients
parse. The one difference between the two APIs that matters to a client: a v1 load-curve
point is dated at its interval's **end** (as Enedis dates it), a v2 one at its **start**
(MED v2's `_shift_timestamps_to_interval_start`). Both are naive Europe/Paris wall-clock times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from models.calendar import PARIS
from models.offpeak import OffPeakParseError, parse_offpeak_hours

WALL_CLOCK = "%Y-%m-%d %H:%M:%S"
# valid_access: the import client strptimes these two exactly (no zone; microseconds required on both
# `.%f` fields), compat-api.md "Strict formats".
ACCESS_SECONDS = "%Y-%m-%dT%H:%M:%S"
ACCESS_MICROS = "%Y-%m-%dT%H:%M:%S.%f"

READING_TYPES = {
    "daily": {"measurement_kind": "energy", "measuring_period": "P1D", "unit": "Wh", "aggregate": "sum"},
    "max_power": {"measurement_kind": "power", "measuring_period": "P1D", "unit": "VA", "aggregate": "maximum"},
    "curve": {"measurement_kind": "power", "unit": "W", "aggregate": "average"},
}


def _day_of(text: str) -> date:
    return date.fromisoformat(text[:10])


def daily_items(days: Mapping[date, Any]) -> list[dict[str, str]]:
    """Daily energy (or production) as Enedis lists it: `{"value": "Wh", "date": "YYYY-MM-DD"}`; known gaps left out."""
    items = []
    for day in sorted(days):
        entry = days[day]
        if isinstance(entry, dict) and entry.get("value") is not None:
            items.append({"value": str(int(entry["value"])), "date": day.isoformat()})
    return items


def max_power_items(days: Mapping[date, Any]) -> list[dict[str, str]]:
    """Daily max power: `{"value": "VA", "date": "YYYY-MM-DD HH:MM:SS"}` (the peak's Paris wall-clock time)."""
    items = []
    for day in sorted(days):
        entry = days[day]
        if not isinstance(entry, dict) or entry.get("va") is None:
            continue
        at = entry.get("at")
        stamp = (datetime.fromisoformat(at).astimezone(PARIS).strftime(WALL_CLOCK) if at
                 else datetime.combine(day, time(0)).strftime(WALL_CLOCK))
        items.append({"value": str(int(entry["va"])), "date": stamp})
    return items


def curve_items(days: Mapping[date, Any], *, at_end: bool) -> list[dict[str, str]]:
    """Load-curve points in time order: average W over `interval_length`, dated at the interval's end
    (`at_end`, v1, as Enedis) or start (v2), naive Paris time. On the fall-back night the same wall-clock
    label comes twice, in time order, as Enedis sends it."""
    points = [p for day in sorted(days) for p in (days[day] or [])]
    points.sort(key=lambda p: datetime.fromisoformat(p["start"]))
    items = []
    for p in points:
        start = datetime.fromisoformat(p["start"])
        minutes = int(p.get("minutes") or 30)
        stamp = (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(PARIS) if at_end else start.astimezone(PARIS)
        items.append({"value": str(int(p["watts"])), "date": stamp.strftime(WALL_CLOCK),
                      "interval_length": f"PT{minutes:02d}M", "measure_type": "B"})
    return items


def items_of(shape: str, days: Mapping[date, Any], *, curve_at_end: bool) -> list[dict[str, str]]:
    """Enedis's `interval_reading` items of a range of `shape` ("curve", "max_power" or daily); load curve
    points dated at their interval's end (v1) or start (v2)."""
    if shape == "curve":
        return curve_items(days, at_end=curve_at_end)
    if shape == "max_power":
        return max_power_items(days)
    return daily_items(days)


def meter_reading(pdl: str, start: date, end: date, kind: str, items: list[dict[str, str]]) -> dict[str, Any]:
    """An Enedis v5 metering body (`kind`: "daily", "max_power" or "curve")."""
    reading: dict[str, Any] = {"usage_point_id": pdl, "start": start.isoformat(), "end": end.isoformat(),
                               "quality": "BRUT", "reading_type": dict(READING_TYPES[kind]),
                               "interval_reading": items}
    return {"meter_reading": reading}


# -- contract and address -------------------------------------------------------------------------


def enedis_date(day: str | None) -> str | None:
    """A bare day as Enedis writes contract dates, with Paris's offset that day: `2006-05-24+02:00`."""
    if not day:
        return None
    try:
        midnight = datetime.combine(_day_of(day), time(0), PARIS)
    except ValueError:
        return day
    offset = midnight.utcoffset() or timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()) // 60, 60)
    return f"{midnight.date().isoformat()}{'+' if offset >= timedelta(0) else '-'}{abs(hours):02d}:{rest:02d}"


def _usage_point(pdl: str, contract: Mapping[str, Any] | None) -> dict[str, Any]:
    contract = contract or {}
    return {"usage_point_id": pdl, "usage_point_status": contract.get("usage_point_status") or "com",
            "meter_type": contract.get("meter_type") or "AMM"}


def contract_body(pdl: str, customer_id: str, contract: Mapping[str, Any]) -> dict[str, Any]:
    """`/contracts/{pdl}`: the cached contract as Enedis words it (`offpeak_hours` "HC (…)", dates with offset)."""
    contracts = {
        "segment": contract.get("segment"),
        "subscribed_power": contract.get("subscribed_power")
        or (f"{contract['subscribed_power_kva']} kVA" if contract.get("subscribed_power_kva") else None),
        "last_activation_date": enedis_date(contract.get("last_activation_date")),
        "distribution_tariff": contract.get("distribution_tariff"),
        "offpeak_hours": contract.get("offpeak_hours"),
        "contract_status": contract.get("contract_status"),
        "last_distribution_tariff_change_date": enedis_date(contract.get("last_distribution_tariff_change_date")),
    }
    return {"customer": {"customer_id": customer_id,
                         "usage_points": [{"usage_point": _usage_point(pdl, contract), "contracts": contracts}]}}


ADDRESS_FIELDS = ("street", "locality", "postal_code", "insee_code", "city", "country", "geo_points")


def address_body(pdl: str, customer_id: str, address: Mapping[str, Any],
                 contract: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`/addresses/{pdl}`: `usage_point.usage_point_addresses` as Enedis nests it."""
    point = _usage_point(pdl, contract)
    point["usage_point_addresses"] = {k: address.get(k) for k in ADDRESS_FIELDS}
    return {"customer": {"customer_id": customer_id, "usage_points": [{"usage_point": point}]}}


def offpeak_ranges(text: str | None) -> list[str]:
    """`HC (22H00-6H00)` → `["22:00-06:00"]` (MED v2's `offpeak_hours`); unreadable text → []."""
    try:
        ranges = parse_offpeak_hours(text)
    except OffPeakParseError:
        return []
    return [f"{r.start // 60:02d}:{r.start % 60:02d}-{(r.end // 60) % 24:02d}:{r.end % 60:02d}" for r in ranges]


# -- valid_access ---------------------------------------------------------------------------------


def valid_access(*, valid: bool, consent_expires: datetime | None, call_number: int, quota_limit: int,
                 quota_reset_at: datetime, last_call: datetime | None, information: str | None = None) -> dict[str, Any]:
    """The v1 `valid_access` body: the six keys the import client needs, in the formats it strptimes.

    Times are naive Paris wall-clock (MED's server is in France); `last_call` and `quota_reset_at`
    always carry microseconds."""

    def local(moment: datetime) -> datetime:
        return moment.astimezone(PARIS).replace(tzinfo=None) if moment.tzinfo else moment

    body: dict[str, Any] = {
        "valid": valid,
        "consent_expiration_date": local(consent_expires).strftime(ACCESS_SECONDS) if consent_expires else None,
        "call_number": call_number,
        "quota_reached": call_number >= quota_limit,
        "quota_limit": quota_limit,
        "quota_reset_at": local(quota_reset_at).strftime(ACCESS_MICROS),
        "last_call": local(last_call).strftime(ACCESS_MICROS) if last_call else None,
        "ban": False,
    }
    if information:
        body["information"] = information
    return body


# -- Tempo and EcoWatt ------------------------------------------------------------------------------


def tempo_map(days: Iterable[tuple[date, str]], *, upper: bool) -> dict[str, str]:
    """`{"2023-03-01": "blue"}`: v1's Tempo body, lowercase (hass-myelectricaldata) or uppercase (the import client)."""
    return {day.isoformat(): (colour.upper() if upper else colour.lower()) for day, colour in sorted(days)}


def ecowatt_map(signals: Iterable[tuple[date, int, str, list[int]]]) -> dict[str, Any]:
    """v1's EcoWatt body: per day its value (1 green, 2 orange, 3 red), message and hourly detail."""
    out: dict[str, Any] = {}
    for day, value, message, hours in sorted(signals, key=lambda s: s[0]):
        detail = {datetime.combine(day, time(h)).strftime(WALL_CLOCK): int(v) for h, v in enumerate(hours or [])}
        out[day.isoformat()] = {"value": int(value), "message": message or "", "detail": detail}
    return out


# -- v2 ---------------------------------------------------------------------------------------------


def v2_timestamp(now: datetime | None = None) -> str:
    """The envelope's `timestamp`: naive UTC with microseconds, as MED v2's pydantic model writes it."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(ACCESS_MICROS)


def envelope(data: Any = None, *, error: tuple[str, str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """MED v2's `{success, data, error, timestamp}`; `error` is (code, message)."""
    return {"success": error is None, "data": data,
            "error": None if error is None else {"code": error[0], "message": error[1]},
            "timestamp": v2_timestamp(now)}
