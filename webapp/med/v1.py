"""MyElectricalData v1, at the root: what myelectricaldatapy (hass-myelectricaldata), enedis-client, the
import client and myEnedis call (`docs/compat-api.md` §1), served from Relevé's cache.

- Auth: the raw `Authorization: <token>` (no scheme; `Bearer` accepted too), the token being one of the
  account's Relevé API secrets. Public: `rte/*`, `edf/*`, `ping`.
- Paths as MED's: dates `YYYY-MM-DD` with `end` exclusive (a future `end` becomes today), an optional
  `/cache` suffix and trailing `/`; every read is served from Relevé's store, `/cache` or not.
- Bodies: Enedis v5 JSON, string values, load curve dated at the interval's end; errors `{"detail": …}`.
- Status codes: 401 no or unknown token; 404 a PDL not the caller's (as one that does not exist), or no
  data; 403 the consent must be renewed; 409 the caller's own quota is reached (myelectricaldatapy's
  `LimitReached`); 429 Enedis throttles the gateway (`detail` = Enedis's error as a JSON string, with
  `nextAccessTime`); 503 + Retry-After while missing days are being fetched.
- A range is answered whole or not at all: these clients store what they get as final, so a range
  with a day not cached yet is a 503 (the fetch is enqueued), never a 200 with holes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from models.calendar import PARIS, today_paris
from models.grid.tempo import count_season, season
from models.keys import ADDRESS, CONTRACT
from models.usage_points import UsagePoint
from pipeline.api import Caller, QuotaState, secret_of, series_name
from webapp.db import commit_despite_5xx
from webapp.med import shapes
from webapp.med.common import (
    MAX_ECOWATT_DAYS, MAX_REQUEST_DAYS, MAX_TEMPO_DAYS, V1_SERIES, DateError, DetailError, absent_days, clamp_end,
    consent_expiry, detail_answer, last_call, parse_day, read_api, upstream_pause,
)
from webapp.med.tempo_prices import tempo_prices

bp = Blueprint("med_v1", __name__)

NOT_YOURS = "Point de livraison inconnu pour ce jeton."
CONSENT = ("Le consentement Enedis de ce point de livraison a expiré ou a été retiré : "
           "renouvelez-le depuis le tableau de bord de Relevé.")


bp.register_error_handler(DetailError, detail_answer)


def _json(body: Any, quota: QuotaState | None = None) -> Response:
    response = jsonify(body)
    if quota is not None:
        response.headers.update(quota.headers())
    return response


def _secret() -> str:
    secret = secret_of(request.headers.get("Authorization"), raw=True)
    if secret is None:
        raise DetailError(401, "Jeton manquant : envoyez votre secret d'API Relevé dans l'en-tête Authorization.")
    return secret


def caller_and_point(pdl: str) -> tuple[Caller, UsagePoint]:
    """The API client behind the raw token (or `Bearer` token), 401 otherwise, and its point with this PDL,
    404 otherwise (another account's PDL answers exactly as one that does not exist); together, from
    Valkey's copy of who the secret is (models/access.py) or PostgreSQL."""
    found, point = read_api().authenticate_for(_secret(), pdl)
    if found is None:
        raise DetailError(401, "Jeton inconnu, révoqué, ou compte désactivé.")
    if point is None:
        raise DetailError(404, NOT_YOURS)
    return found, point


def quota_refused(quota: QuotaState) -> DetailError:
    """409: the caller's own quota (MED's convention, myelectricaldatapy raises LimitReached)."""
    kind, period = (quota.refused or "cache:day").split(":")
    limit = quota.limits.get(quota.refused or "cache:day")
    what = "journalier" if period == "day" else "par minute"
    of = " d'appels à Enedis" if kind == "upstream" else ""
    return DetailError(409, f"Vous avez dépassé votre quota {what}{of} ({limit}).",
                   {"Retry-After": str(quota.retry_after), **quota.headers()})


def pending(missing: int, retry_after: int, quota: QuotaState) -> DetailError:
    """The miss: 429 while Enedis makes the gateway wait, 503 + Retry-After while the fetch runs."""
    commit_despite_5xx()  # the fetch enqueued is sent once the request's transaction commits
    pause = upstream_pause()
    if pause is not None:
        return DetailError(429, pause.enedis_body(), {"Retry-After": str(pause.seconds), **quota.headers()})
    wait = max(1, retry_after or 30)
    return DetailError(503, f"Données en cours de récupération auprès d'Enedis ({missing} jour(s) manquant(s)) : "
                        f"réessayez dans {wait} s.", {"Retry-After": str(wait), **quota.headers()})


# -- access ---------------------------------------------------------------------------------------


def valid_access(pdl: str) -> Response:
    who, point = caller_and_point(pdl)
    api = read_api()
    # The daily quota that stops every read is the one reported (myelectricaldatapy stops reading for the day
    # when `quota_reached`); the quota of reads that cost an Enedis call, which only stops those, comes beside it.
    quota = api.quotas.peek(who.client_pk)
    used, limit = quota.used["cache:day"], quota.limits["cache:day"]
    information = None
    if used >= limit:
        information = f"Vous avez dépassé votre quota journalier ({limit})"
    elif point.status != "active":
        information = CONSENT
    reset = quota.day_resets_at or datetime.combine(today_paris() + timedelta(days=1), time(0), PARIS)
    body = shapes.valid_access(
        valid=point.status == "active" and used < limit, consent_expires=consent_expiry(point),
        call_number=used, quota_limit=limit, quota_reset_at=reset - timedelta(microseconds=1),
        last_call=last_call(who) or datetime.now(PARIS), information=information)
    body["enedis_call_number"] = quota.used["upstream:day"]
    body["enedis_quota_limit"] = quota.limits["upstream:day"]
    return _json(body, quota)


# -- readings -------------------------------------------------------------------------------------


def readings(endpoint: str, pdl: str, start: str, end: str) -> Response:
    role, shape = V1_SERIES[endpoint]
    who, point = caller_and_point(pdl)
    try:
        first, last = parse_day(start, "de début"), parse_day(end, "de fin")
    except DateError as exc:
        raise DetailError(400, str(exc)) from None
    last = clamp_end(last)
    if last <= first:
        raise DetailError(400, "La date de fin (exclue) doit être après la date de début, et pas dans le futur.")
    if (last - first).days > MAX_REQUEST_DAYS[shape]:
        raise DetailError(400, f"Au plus {MAX_REQUEST_DAYS[shape]} jours par requête pour {endpoint} : "
                           "découpez la période.")
    series = series_name(point, role)
    if series is None:
        raise DetailError(404, "Ce point de livraison ne fournit pas cette donnée (type de compteur, "
                           "ou courbe de charge non activée chez Enedis).")
    served = read_api().series(who, point, series, first, last)
    if not served.quota.allowed:
        raise quota_refused(served.quota)
    read = served.read
    absent = absent_days(read)
    if absent:
        if read.blocked == "consent_needed":
            raise DetailError(403, CONSENT, served.quota.headers())
        if read.blocked == "series_not_available":
            raise DetailError(404, "Ce point de livraison ne fournit pas cette donnée.", served.quota.headers())
        raise pending(len(absent), read.retry_after, served.quota)
    items = shapes.items_of(shape, read.days, curve_at_end=True)
    if not items:
        raise DetailError(404, f"Pas de données disponibles entre le {first} et le {last} (exclu).", served.quota.headers())
    return _json(shapes.meter_reading(point.pdl, first, last, shape, items), served.quota)


# -- contract and address -------------------------------------------------------------------------


def customer_entry(name: str, pdl: str) -> Response:
    who, point = caller_and_point(pdl)
    api = read_api()
    served = api.entry(who, point, name)
    if not served.quota.allowed:
        raise quota_refused(served.quota)
    read = served.read
    if read.value is None:
        if read.blocked == "consent_needed":
            raise DetailError(403, CONSENT, served.quota.headers())
        if read.blocked:
            raise DetailError(404, "Enedis ne fournit pas ces informations pour ce point de livraison.",
                          served.quota.headers())
        raise pending(1, read.retry_after, served.quota)
    customer_id = str(point.id)
    if name == CONTRACT:
        return _json(shapes.contract_body(point.pdl, customer_id, read.value), served.quota)
    contract = api.cache.get(point.user_id, CONTRACT, point=point.id)
    return _json(shapes.address_body(point.pdl, customer_id, read.value, contract), served.quota)


def not_kept(pdl: str) -> Response:
    """identity and contact: Relevé never asks Enedis for the holder's identity or contact data."""
    caller_and_point(pdl)
    raise DetailError(404, "Relevé ne conserve ni l'identité ni les coordonnées du titulaire.")


def cache_delete(pdl: str, **_dates: str) -> Response:
    """The clients' cache purges: acknowledged. Relevé's store is the gateway's only copy of the readings and
    the pipeline keeps it fresh; wiping it would only spend Enedis calls to fetch the same days again."""
    caller_and_point(pdl)
    return jsonify(detail="ok", information="Relevé garde ses données à jour lui-même : rien n'a été effacé.")


# -- public: RTE, EDF, ping -----------------------------------------------------------------------


def _public_range(start: str, end: str, max_days: int) -> tuple[date, date]:
    """[start, end] of a public read, end included (tomorrow's colour is what Home Assistant shows),
    cut to the newest `max_days` days."""
    try:
        first, last = parse_day(start, "de début"), parse_day(end, "de fin")
    except DateError as exc:
        raise DetailError(400, str(exc)) from None
    if last < first:
        raise DetailError(400, "La date de fin doit être après la date de début.")
    return max(first, last - timedelta(days=max_days - 1)), last + timedelta(days=1)


def tempo(start: str, end: str) -> Response:
    first, stop = _public_range(start, end, MAX_TEMPO_DAYS)
    upper = read_api().settings.med_tempo_case == "upper"
    return jsonify(shapes.tempo_map(read_api().tempo_days(first, stop).items(), upper=upper))


def ecowatt(start: str, end: str) -> Response:
    first, stop = _public_range(start, end, MAX_ECOWATT_DAYS)
    signals = read_api().ecowatt_days(first, stop)
    return jsonify(shapes.ecowatt_map((s.day, s.dvalue, s.message, s.hvalues) for s in signals))


def tempo_days_left() -> Response:
    """`{"blue": n, "white": n, "red": n}`: the days of each colour the current season has left."""
    first, last = season(today_paris())
    colours = read_api().tempo_days(first, last + timedelta(days=1)).values()
    left = count_season(first, last, colours).remaining
    return jsonify({"blue": left["BLUE"], "white": left["WHITE"], "red": left["RED"]})


def tempo_price() -> Response:
    prices = tempo_prices(read_api().session, today_paris())
    if prices is None:
        raise DetailError(404, "Aucun prix Tempo en vigueur dans le catalogue de Relevé.")
    return jsonify(prices)


def ping() -> Response:
    return jsonify(status=True, information="Relevé répond.")


# -- the routes -----------------------------------------------------------------------------------
# Every path with and without the `/cache` suffix, each with or without a trailing `/`.


def _route(rule: str, view, endpoint_name: str, **bound) -> None:
    """`view` with `bound` arguments fixed (not URL defaults: a rule's arguments are what its URL carries)."""
    def bound_view(**kwargs):
        return view(**bound, **kwargs)

    for suffix in ("", "/cache"):
        bp.add_url_rule(rule + suffix, f"{endpoint_name}{suffix.replace('/', '_')}", bound_view, methods=["GET"],
                        strict_slashes=False)


_route("/valid_access/<pdl>", valid_access, "valid_access")
for _endpoint in V1_SERIES:
    _route(f"/{_endpoint}/<pdl>/start/<start>/end/<end>", readings, _endpoint, endpoint=_endpoint)
_route("/contracts/<pdl>", customer_entry, "contracts", name=CONTRACT)
_route("/addresses/<pdl>", customer_entry, "addresses", name=ADDRESS)
_route("/identity/<pdl>", not_kept, "identity")
_route("/contact/<pdl>", not_kept, "contact")

bp.add_url_rule("/rte/tempo/<start>/<end>", "tempo", tempo, strict_slashes=False)
bp.add_url_rule("/rte/ecowatt/<start>/<end>", "ecowatt", ecowatt, strict_slashes=False)
bp.add_url_rule("/edf/tempo/days", "tempo_days_left", tempo_days_left, strict_slashes=False)
bp.add_url_rule("/edf/tempo/price", "tempo_price", tempo_price, strict_slashes=False)
bp.add_url_rule("/ping", "ping", ping, strict_slashes=False)

bp.add_url_rule("/cache/<pdl>", "cache_delete_all", cache_delete, methods=["DELETE"], strict_slashes=False)
for _endpoint in (*V1_SERIES, "contracts", "addresses", "identity", "contact"):
    bp.add_url_rule(f"/{_endpoint}/<pdl>/cache", f"cache_delete_{_endpoint}", cache_delete, methods=["DELETE"],
                    strict_slashes=False)
    bp.add_url_rule(f"/{_endpoint}/<pdl>/start/<start>/end/<end>/cache", f"cache_delete_{_endpoint}_range",
                    cache_delete, methods=["DELETE"], strict_slashes=False)
