"""MyElectricalData v2, under `/api`: what MED's client mode (the `myelectricaldata_v2` Home Assistant
add-on, `MED_API_URL`) and its web UI call (`docs/compat-api.md` §2), served from Relevé's cache.

- Auth, in MED's order: the `access_token` cookie (GET only: a cookie rides along on cross-site
  requests, so it never authorises a change), `Authorization: Bearer <x>`, the raw `Authorization`
  value; `<x>` is one of the account's Relevé API secrets (MED's client_secret) or a token from
  `POST /api/accounts/token`. 401 `{"detail": …}` otherwise.
- Answers: `{success, data, error, timestamp}`; business errors are HTTP 200 with `success: false`
  and a stable `error.code` (ACCESS_DENIED for a PDL not the caller's, never its data;
  RATE_LIMIT_EXCEEDED; DATA_PENDING + Retry-After while missing days are fetched; CONSENT_REQUIRED;
  NO_DATA; INVALID_DATE_FORMAT; INVALID_DATE_RANGE). A missing required parameter is a 422
  `{"detail": [...]}`, as FastAPI answers it.
- Load-curve points are dated at their interval's **start** (MED v2), naive Paris time.
- A range is answered whole or not at all, as in v1.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from models.calendar import today_paris
from models.keys import ADDRESS, CONTRACT
from models.offers import Offer, Provider
from models.series import SERIES
from models.usage_points import UsagePoint
from pipeline.api import Caller, QuotaState, secret_of, series_name
from pipeline.series import history_start
from webapp.med import shapes, tokens
from webapp.med.common import DateError, DetailError, absent_days, detail_answer, parse_day, read_api, upstream_pause

bp = Blueprint("med_v2", __name__, url_prefix="/api")

# The longest range one request may ask: MED's client mode asks 365 days of daily, 7 of detail;
# its web UI's batch routes ask longer runs of load curve.
MAX_DAYS = {"daily": 1095, "max_power": 1095, "curve": 7, "batch": 31}


class Refusal(Exception):
    """A business error: HTTP 200, `success: false`, `error.code`."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.headers = code, message, headers or {}


bp.register_error_handler(DetailError, detail_answer)


@bp.errorhandler(Refusal)
def _refusal(exc: Refusal) -> Response:
    response = jsonify(shapes.envelope(error=(exc.code, exc.message)))
    response.headers.update(exc.headers)
    return response


def ok(data: Any, quota: QuotaState | None = None) -> Response:
    response = jsonify(shapes.envelope(data))
    if quota is not None:
        response.headers.update(quota.headers())
    return response


def missing_param(*names: str) -> DetailError:
    return DetailError(422, [{"loc": ["query", n], "msg": "Paramètre obligatoire.", "type": "missing"} for n in names])


# -- auth -----------------------------------------------------------------------------------------


def _credential() -> str | None:
    if request.method in ("GET", "HEAD"):
        cookie = request.cookies.get("access_token")
        if cookie:
            return cookie
    return secret_of(request.headers.get("Authorization"), raw=True)


def caller() -> Caller:
    value = _credential()
    if value is None:
        raise DetailError(401, "Authentification requise.", {"WWW-Authenticate": "Bearer"})
    api = read_api()
    if "." in value:  # a token (API secrets are URL-safe base64, without dots)
        secret_hash = tokens.secret_hash_of(api.settings.secret_key, value)
        found = api.authenticate_hash(secret_hash) if secret_hash else None
    else:
        found = api.authenticate(value)
    if found is None:
        raise DetailError(401, "Identifiants invalides, révoqués ou expirés.", {"WWW-Authenticate": "Bearer"})
    return found


def owned(who: Caller, pdl: str) -> UsagePoint:
    point = read_api().own_point(who, pdl)
    if point is None:
        raise Refusal("ACCESS_DENIED", "Ce point de livraison n'appartient pas à ce compte.")
    return point


def refused(quota: QuotaState) -> Refusal:
    slot = quota.refused or "cache:day"
    return Refusal("RATE_LIMIT_EXCEEDED",
                   f"Quota dépassé ({quota.used[slot]}/{quota.limits[slot]}, {slot}) : réessayez plus tard.",
                   {"Retry-After": str(quota.retry_after), **quota.headers()})


def _pending(missing: int, retry_after: int, quota: QuotaState) -> Refusal:
    pause = upstream_pause()
    wait = max(1, retry_after or 30, pause.seconds if pause else 0)
    return Refusal("DATA_PENDING", f"{missing} jour(s) en cours de récupération auprès d'Enedis : "
                                   f"réessayez dans {wait} s.", {"Retry-After": str(wait), **quota.headers()})


@bp.post("/accounts/token")
def token() -> Response:
    """Form `grant_type, client_id, client_secret`, or HTTP Basic `client_id:client_secret`."""
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    header = request.headers.get("Authorization", "")
    if (not client_id or not secret) and header[:6].lower() == "basic ":
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise DetailError(401, "Identifiants illisibles.") from None
    if not client_id or not secret:
        raise DetailError(422, [{"loc": ["body", n], "msg": "Paramètre obligatoire.", "type": "missing"}
                            for n in ("client_id", "client_secret")])
    api = read_api()
    found = api.authenticate(secret_of(secret, raw=True))
    if found is None or found.client_id != client_id:
        raise DetailError(401, "Identifiants invalides.")
    return jsonify(access_token=tokens.issue(api.settings.secret_key, secret), token_type="bearer",
                   expires_in=tokens.TOKEN_SECONDS)


@bp.get("/accounts/usage-stats", strict_slashes=False)
def usage_stats() -> Response:
    who = caller()
    quota = read_api().quotas.peek(who.client_pk)
    return ok({"cached_requests": quota.used["cache:day"], "no_cache_requests": quota.used["upstream:day"],
               "cached_limit": quota.limits["cache:day"], "no_cache_limit": quota.limits["upstream:day"],
               "date": today_paris().isoformat()}, quota)


# -- the caller's meters --------------------------------------------------------------------------


@bp.get("/pdl", strict_slashes=False)
def pdls() -> Response:
    who = caller()
    api = read_api()
    quota = api.quotas.charge(who.client_pk, "cache")
    if not quota.allowed:
        raise refused(quota)
    points = api.own_points(who)
    contracts = api.cache.get_many(who.user_id, [(CONTRACT, p.id) for p in points])
    today = today_paris()
    out = []
    for order, (point, contract) in enumerate(zip(points, contracts)):
        contract = contract or {}
        consumer = point.kind in ("consumption", "unknown")
        daily = SERIES["daily_consumption" if consumer else "daily_production"]
        out.append({
            "id": str(point.id), "usage_point_id": point.pdl, "name": point.name or point.pdl,
            "created_at": point.created_at.isoformat() if point.created_at else None, "display_order": order,
            "subscribed_power": contract.get("subscribed_power_kva"),
            "offpeak_hours": shapes.offpeak_ranges(contract.get("offpeak_hours")),
            "pricing_option": None, "has_consumption": consumer, "has_production": point.kind == "production",
            "is_active": point.status == "active",
            "oldest_available_data_date": history_start(daily, today, point.activation_date).isoformat(),
            "activation_date": point.activation_date.isoformat() if point.activation_date else None,
            "linked_production_pdl_id": None, "selected_offer_id": point.offer_id,
        })
    return ok(out, quota)


# -- readings -------------------------------------------------------------------------------------


def _range(max_days: int) -> tuple[date, date]:
    """MED v2's rules: `start`, `end` required (end exclusive); `end` capped to today; `start ≥ end`
    becomes the day before `end`; longer than `max_days` is INVALID_DATE_RANGE."""
    names = [n for n in ("start", "end") if not request.args.get(n)]
    if names:
        raise missing_param(*names)
    try:
        first, last = parse_day(request.args["start"], "start"), parse_day(request.args["end"], "end")
    except DateError as exc:
        raise Refusal("INVALID_DATE_FORMAT", str(exc)) from None
    last = min(last, today_paris())
    if first >= last:
        first = last - timedelta(days=1)
    if (last - first).days > max_days:
        raise Refusal("INVALID_DATE_RANGE", f"Au plus {max_days} jours par requête.")
    return first, last


def readings(pdl: str, role: str, shape: str, max_days: int) -> Response:
    who = caller()
    point = owned(who, pdl)
    first, last = _range(max_days)
    series = series_name(point, role)
    if series is None:
        raise Refusal("NO_DATA", "Ce point de livraison ne fournit pas cette donnée.")
    served = read_api().series(who, point, series, first, last)
    if not served.quota.allowed:
        raise refused(served.quota)
    read = served.read
    absent = absent_days(read)
    if absent:
        if read.blocked == "consent_needed":
            raise Refusal("CONSENT_REQUIRED", "Le consentement Enedis de ce point de livraison doit être renouvelé.",
                          served.quota.headers())
        if read.blocked == "series_not_available":
            raise Refusal("NO_DATA", "Ce point de livraison ne fournit pas cette donnée.", served.quota.headers())
        raise _pending(len(absent), read.retry_after, served.quota)
    items = shapes.items_of(shape, read.days, curve_at_end=False)
    if not items:
        raise Refusal("NO_DATA", f"Pas de données entre le {first} et le {last} (exclu).", served.quota.headers())
    return ok(shapes.meter_reading(point.pdl, first, last, shape, items), served.quota)


def _reading_route(rule: str, name: str, role: str, shape: str, max_days: int) -> None:
    def view(pdl: str) -> Response:
        return readings(pdl, role, shape, max_days)

    bp.add_url_rule(rule, name, view, strict_slashes=False)


_reading_route("/enedis/consumption/daily/<pdl>", "consumption_daily", "daily", "daily", MAX_DAYS["daily"])
_reading_route("/enedis/consumption/detail/<pdl>", "consumption_detail", "curve", "curve", MAX_DAYS["curve"])
_reading_route("/enedis/consumption/detail/batch/<pdl>", "consumption_detail_batch", "curve", "curve",
               MAX_DAYS["batch"])
_reading_route("/enedis/power/<pdl>", "power", "max", "max_power", MAX_DAYS["max_power"])
_reading_route("/enedis/production/daily/<pdl>", "production_daily", "production_daily", "daily", MAX_DAYS["daily"])
_reading_route("/enedis/production/detail/<pdl>", "production_detail", "production_curve", "curve",
               MAX_DAYS["curve"])
_reading_route("/enedis/production/detail/batch/<pdl>", "production_detail_batch", "production_curve", "curve",
               MAX_DAYS["batch"])


@bp.get("/enedis/contract/<pdl>", strict_slashes=False)
def contract(pdl: str) -> Response:
    return customer_entry(pdl, CONTRACT)


@bp.get("/enedis/address/<pdl>", strict_slashes=False)
def address(pdl: str) -> Response:
    return customer_entry(pdl, ADDRESS)


def customer_entry(pdl: str, name: str) -> Response:
    who = caller()
    point = owned(who, pdl)
    api = read_api()
    served = api.entry(who, point, name)
    if not served.quota.allowed:
        raise refused(served.quota)
    read = served.read
    if read.value is None:
        if read.blocked == "consent_needed":
            raise Refusal("CONSENT_REQUIRED", "Le consentement Enedis de ce point de livraison doit être renouvelé.")
        if read.blocked:
            raise Refusal("NO_DATA", "Enedis ne fournit pas ces informations pour ce point de livraison.")
        raise _pending(1, read.retry_after, served.quota)
    if name == CONTRACT:
        return ok(shapes.contract_body(point.pdl, str(point.id), read.value), served.quota)
    contract = api.cache.get(point.user_id, CONTRACT, point=point.id)
    return ok(shapes.address_body(point.pdl, str(point.id), read.value, contract), served.quota)


@bp.get("/enedis/customer/<pdl>", strict_slashes=False)
@bp.get("/enedis/contact/<pdl>", strict_slashes=False)
def not_kept(pdl: str) -> Response:
    owned(caller(), pdl)
    raise Refusal("NO_DATA", "Relevé ne conserve ni l'identité ni les coordonnées du titulaire.")


@bp.delete("/enedis/cache/<pdl>", strict_slashes=False)
def cache_delete(pdl: str) -> Response:
    """Acknowledged, nothing deleted: Relevé's store is the gateway's only copy and the pipeline keeps it fresh."""
    owned(caller(), pdl)
    return jsonify(success=True, deleted_keys=0,
                   message="Relevé garde ses données à jour lui-même : rien n'a été effacé.")


# -- public: Tempo, EcoWatt, offers, national consumption ---------------------------------------------


def _tempo_items(first: date, stop: date) -> list[dict[str, Any]]:
    return [{"date": day.isoformat(), "color": colour.upper(), "updated_at": None, "rte_updated_date": None}
            for day, colour in sorted(read_api().tempo_days(first, stop).items())]


def _optional_day(name: str, default: date) -> date:
    text = request.args.get(name)
    if not text:
        return default
    try:
        return parse_day(text, name)
    except DateError as exc:
        raise Refusal("INVALID_DATE_FORMAT", str(exc)) from None


def _public_range(start_name: str, end_name: str, default_days: int, max_days: int) -> tuple[date, date]:
    """[start, end] (both included), default the last `default_days` days through tomorrow, cut to `max_days`."""
    tomorrow = today_paris() + timedelta(days=1)
    last = _optional_day(end_name, tomorrow)
    first = _optional_day(start_name, last - timedelta(days=default_days - 1))
    if last < first:
        raise Refusal("INVALID_DATE_RANGE", "La date de fin doit être après la date de début.")
    return max(first, last - timedelta(days=max_days - 1)), last + timedelta(days=1)


@bp.get("/tempo/days", strict_slashes=False)
def tempo_days() -> Response:
    return ok(_tempo_items(*_public_range("start_date", "end_date", 31, 1100)))


@bp.get("/tempo", strict_slashes=False)
def tempo_range() -> Response:
    return ok(_tempo_items(*_public_range("start", "end", 31, 1100)))


@bp.get("/tempo/today", strict_slashes=False)
def tempo_today() -> Response:
    today = today_paris()
    items = _tempo_items(today, today + timedelta(days=1))
    return ok(items[0] if items else None)


@bp.get("/tempo/week", strict_slashes=False)
def tempo_week() -> Response:
    today = today_paris()
    return ok(_tempo_items(today - timedelta(days=6), today + timedelta(days=2)))


@bp.get("/ecowatt/forecast", strict_slashes=False)
def ecowatt_forecast() -> Response:
    """Authenticated and counted, as MED's: over the quota it is a 429 `{"detail"}`, not an envelope."""
    who = caller()
    try:
        days = int(request.args.get("days", "4"))
    except ValueError:
        raise DetailError(422, [{"loc": ["query", "days"], "msg": "Entier de 1 à 7.", "type": "int_parsing"}]) from None
    if not 1 <= days <= 7:
        raise DetailError(422, [{"loc": ["query", "days"], "msg": "Entier de 1 à 7.", "type": "range"}])
    api = read_api()
    quota = api.quotas.charge(who.client_pk, "cache")
    if not quota.allowed:
        slot = quota.refused or "cache:day"
        raise DetailError(429, f"Quota dépassé : {quota.used[slot]}/{quota.limits[slot]} requêtes.",
                      {"Retry-After": str(quota.retry_after), **quota.headers()})
    today = today_paris()
    out = []
    for signal in api.ecowatt_days(today, today + timedelta(days=days)):
        out.append({
            "id": signal.day.isoformat(), "periode": f"{signal.day.isoformat()}T00:00:00",
            "generation_datetime": _naive_utc(signal.generated_at), "dvalue": signal.dvalue,
            "message": signal.message, "values": list(signal.hvalues or []), "hdebut": 0,
            "hfin": max(0, len(signal.hvalues or []) - 1), "pas": 60,
            "created_at": _naive_utc(signal.fetched_at), "updated_at": _naive_utc(signal.fetched_at),
        })
    return ok(out, quota)


def _naive_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).replace(tzinfo=None).isoformat()


@bp.get("/energy/providers", strict_slashes=False)
def providers() -> Response:
    rows = read_api().session.scalars(select(Provider).order_by(Provider.name))
    return ok([{"id": str(p.id), "name": p.name, "logo_url": None, "website": p.website or None,
                "scraper_urls": []} for p in rows])


@bp.get("/energy/offers", strict_slashes=False)
def offers() -> Response:
    """The catalogue's offers (households' own offers are private, never listed), each with its prices in force
    at 6 kVA (MED lists one price per offer and power; Relevé's catalogue has one row per kVA)."""
    query = select(Offer).where(Offer.owner_id.is_(None), Offer.provider_id.is_not(None)).order_by(Offer.name)
    provider = request.args.get("provider_id")
    if provider:
        if not provider.isdigit() or len(provider) > 9:
            return ok([])
        query = query.where(Offer.provider_id == int(provider))
    today = today_paris()
    out = []
    for offer in read_api().session.scalars(query):
        for price in sorted(offer.prices, key=lambda p: (p.kva, p.valid_from)):
            if not price.covers(today) and request.args.get("include_history") not in ("true", "1"):
                continue
            energy = {bucket: float(value) for bucket, value in price.energy.items()}
            out.append({
                "id": f"{offer.id}-{price.id}", "provider_id": str(offer.provider_id), "name": offer.name,
                "offer_type": offer.option, "power_kva": price.kva,
                "subscription_price": float(price.fixed_eur_month),
                "base_price": energy.get("base"), "hc_price": energy.get("hc"), "hp_price": energy.get("hp"),
                **{f"tempo_{c}_{p}": energy.get(f"tempo_{c}_{p}") for c in ("blue", "white", "red") for p in ("hc", "hp")},
                "ejp_normal": energy.get("ejp_normal"), "ejp_peak": energy.get("ejp_peak"),
                "valid_from": price.valid_from.isoformat(),
                "valid_to": price.valid_to.isoformat() if price.valid_to else None,
                "is_active": price.covers(today) and offer.open_to_new_customers,
            })
    return ok(out)


NATIONAL_TYPES = ("REALISED", "ID", "D-1", "D-2")


@bp.get("/consumption-france", strict_slashes=False)
def consumption_france() -> Response:
    kind = request.args.get("type")
    if kind is not None and kind not in NATIONAL_TYPES:
        raise DetailError(422, [{"loc": ["query", "type"], "msg": f"Une valeur parmi {', '.join(NATIONAL_TYPES)}.",
                             "type": "enum"}])
    first, stop = _public_range("start_date", "end_date", 2, 31)
    start_at = datetime.combine(first, datetime.min.time(), shapes.PARIS)
    end_at = datetime.combine(stop, datetime.min.time(), shapes.PARIS)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in read_api().national_consumption(start_at, end_at):
        if kind is not None and row.series != kind:
            continue
        by_type.setdefault(row.series, []).append({
            "start_date": row.start_at.astimezone(shapes.PARIS).isoformat(),
            "end_date": row.end_at.astimezone(shapes.PARIS).isoformat(), "value": row.value_mw,
            "updated_date": row.updated_at.astimezone(shapes.PARIS).isoformat() if row.updated_at else None})
    return ok({"short_term": [{"type": t, "values": values} for t, values in by_type.items()],
               "period": {"start": start_at.isoformat(), "end": end_at.isoformat()}})
