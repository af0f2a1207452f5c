"""`/api/v1`: the caller's meters and readings, from the cache; RTE's public data.

Every route but the public ones (Tempo, EcoWatt, national consumption, the OpenAPI document and its
page) needs `Authorization: Bearer <API secret>`; the session cookie is never looked at. A PDL that is
not the caller's is a 404, like one that does not exist. Ranges are [start, end), `end` excluded, in
days (YYYY-MM-DD, Paris calendar), at most `pipeline.api.MAX_DAYS` per request.

A range the cache holds whole is a 200. A range with days missing that Enedis can still serve is a
202 with `Retry-After` and the missing days: an interactive fetch was enqueued (or is under way),
and the same request answers 200 once the worker has written the cache. Every authenticated answer
carries the client's quota counters (`X-Quota-*`); beyond a quota, 429 with `Retry-After`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, g, jsonify, request

from models.calendar import PARIS, last_published_day, now_paris
from models.costs import to_dict
from models.keys import ADDRESS, CONTRACT, SIMULATION
from models.series import SERIES
from models.usage_points import UsagePoint
from models.valkey import get_client
from pipeline.api import (
    MAX_DAYS, MAX_PUBLIC_DAYS, Caller, QuotaState, RangeError, ReadApi, SeriesRead, check_range,
    secret_of, series_name,
)
from pipeline.costs import months_back, offer_choice, price_offers
from webapp import json_errors
from webapp.api import bp
from webapp.data import cache
from webapp.db import db
from webapp.extensions import celery, settings
from webapp.inputs import DAY

PUBLIC = frozenset({"api_v1.openapi_json", "api_v1.docs", "api_v1.tempo", "api_v1.ecowatt",
                    "api_v1.national_consumption"})
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 1, 1)  # outside: no reading, no colour, a typo

# Status → (stable code, message) of the errors the app raises before a view answers.
STATUS_CODES = {
    400: ("BAD_REQUEST", "Requête invalide."),
    401: ("UNAUTHENTICATED", "Authentification requise : en-tête « Authorization: Bearer <secret d'API> »."),
    403: ("FORBIDDEN", "Accès refusé."),
    404: ("NOT_FOUND", "Ressource introuvable."),
    405: ("METHOD_NOT_ALLOWED", "Méthode non permise sur cette ressource."),
    413: ("PAYLOAD_TOO_LARGE", "Requête trop volumineuse."),
    429: ("QUOTA_EXCEEDED", "Quota atteint : réessayez après le délai indiqué par Retry-After."),
    500: ("INTERNAL_ERROR", "Erreur interne : réessayez dans un moment."),
    503: ("SERVICE_UNAVAILABLE", "Service momentanément indisponible : réessayez après le délai indiqué."),
}


class ApiError(Exception):
    """An answer of the API that is an error: HTTP status, stable code, a French message."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(code)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers or {}, extra


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> Response:
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    response.headers.update(headers or {})
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="releve"'
    return response


def render_status(status: int, headers: dict[str, str]) -> Response:
    """The JSON answer of an error the app raised (unknown route, 405, 413, outage, 500)."""
    code, message = STATUS_CODES.get(status, ("ERROR", "Erreur."))
    extra = {"incident": headers.pop("X-Incident")} if "X-Incident" in headers else {}
    return error_response(status, code, message, headers, **extra)


@bp.record_once
def _json_errors(state) -> None:
    json_errors.register(state.app, bp.url_prefix, render_status)  # /api/v1 itself too


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)


def api() -> ReadApi:
    """This request's services (the request's session; the process's cache and Valkey client)."""
    if "read_api" not in g:
        s = settings()
        g.read_api = ReadApi(db, s, celery(), cache=cache(), valkey=get_client(s.valkey_url))  # db: opened if needed
    return g.read_api


def caller() -> Caller:
    return g.api_caller


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC:
        return
    # The caller and the point of the path come together: Valkey's copy (models/access.py), else PostgreSQL.
    found, point = api().authenticate_for(secret_of(request.headers.get("Authorization")),
                                          (request.view_args or {}).get("pdl"))
    if found is None:
        code, message = STATUS_CODES[401]
        raise ApiError(401, code, message)
    g.api_caller, g.api_point = found, point


@bp.after_request
def _quota_headers(response: Response) -> Response:
    quota: QuotaState | None = g.get("api_quota")
    if quota is not None:
        response.headers.update(quota.headers())
    return response


def charged(quota: QuotaState) -> None:
    """Record the request's quota state (headers); past a limit, the 429."""
    g.api_quota = quota
    if not quota.allowed:
        raise ApiError(429, "QUOTA_EXCEEDED", STATUS_CODES[429][1], headers={"Retry-After": str(quota.retry_after)},
                       limit=quota.refused, retry_after=quota.retry_after)


def cache_read() -> None:
    """Count a read answered without upstream (the meters, a simulation)."""
    charged(api().quotas.charge(caller().client_pk, "cache"))


# -- parameters ---------------------------------------------------------------------------------------


def day_param(name: str) -> date:
    """A required day `name` of the query string, YYYY-MM-DD between 2000 and 2100."""
    text = request.args.get(name)
    if text is None:
        raise ApiError(400, "MISSING_PARAMETER", f"Paramètre « {name} » requis (AAAA-MM-JJ).", parameter=name)
    try:
        if not DAY.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER", f"Paramètre « {name} » invalide : une date AAAA-MM-JJ est attendue.",
                       parameter=name) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ApiError(400, "INVALID_PARAMETER", f"Paramètre « {name} » hors des années 2000 à 2100.", parameter=name)
    return day


def range_params(max_days: int) -> tuple[date, date]:
    start, end = day_param("start"), day_param("end")
    try:
        check_range(start, end, max_days)
    except RangeError as exc:
        raise ApiError(400, exc.code, exc.message, max_days=max_days) from None
    return start, end


def own(pdl: str) -> UsagePoint:
    """The caller's point of the path (found with the caller, `_authenticate`); 404 for any other PDL."""
    point = g.get("api_point")
    if point is None or point.pdl != pdl:
        raise ApiError(404, "METER_NOT_FOUND", "Aucun compteur de ce numéro dans votre compte.")
    return point


# -- meters -------------------------------------------------------------------------------------------


def meter_json(point: UsagePoint) -> dict[str, Any]:
    return {"pdl": point.pdl, "name": point.name, "kind": point.kind, "status": point.status,
            "load_curve_enabled": point.load_curve_enabled,
            "activation_date": point.activation_date.isoformat() if point.activation_date else None}


@bp.get("/meters")
def meters():
    cache_read()
    return jsonify(meters=[meter_json(p) for p in api().own_points(caller())])


@bp.get("/meters/<pdl>")
def meter(pdl: str):
    point = own(pdl)
    cache_read()
    return jsonify(meter_json(point))


@bp.get("/quota")
def quota():
    state = api().quotas.peek(caller().client_pk)
    g.api_quota = state
    return jsonify(used=state.used, limits=state.limits,
                   day_resets_at=state.day_resets_at.isoformat(timespec="seconds") if state.day_resets_at else None)


# -- readings -----------------------------------------------------------------------------------------

VARIANT = "v1"  # the format of the answers kept (`ReadApi.keep_answer`)
UNITS = {"daily_consumption": "Wh", "daily_production": "Wh", "max_power": "VA", "load_curve": "W",
         "production_load_curve": "W"}


def values_of(read: SeriesRead) -> list[dict[str, Any]]:
    """The cached days as the API shows them, oldest first."""
    out: list[dict[str, Any]] = []
    series = SERIES[read.series]
    for day in sorted(read.days):
        value = read.days[day]
        if series.load_curve:
            out += [{"start": p["start"], "minutes": p["minutes"], "watts": p["watts"], "wh": p["wh"]}
                    for p in value or ()]
        elif read.series == "max_power":
            out.append({"date": day.isoformat(), "va": value["va"] if value else None,
                        "at": value["at"] if value else None})
        else:
            out.append({"date": day.isoformat(), "wh": value["value"] if value else None})
    return out


def pending_answer(head: dict[str, Any], read: SeriesRead) -> Response:
    """202: days are missing and asked for; the body lists them, `Retry-After` says when to ask again."""
    retry = max(1, read.retry_after)
    inside = len(read.missing) + len(set(read.days) - set(read.missing))
    response = jsonify(status="pending", **head, retry_after=retry, reason=read.blocked,
                       progress={"days": inside, "cached": inside - len(read.missing), "missing": len(read.missing)},
                       missing_days=[d.isoformat() for d in read.missing])
    response.status_code = 202
    response.headers["Retry-After"] = str(retry)
    return response


def series_answer(pdl: str, role: str):
    point = own(pdl)
    name = series_name(point, role)
    if name is None:
        raise ApiError(404, "SERIES_NOT_AVAILABLE", "Ce compteur ne fournit pas cette série.")
    start, end = range_params(MAX_DAYS[name])
    kept = api().stored_answer(caller(), point, name, start, end, VARIANT)
    if kept is not None:
        charged(kept.quota)
        return Response(kept.read, mimetype="application/json")
    served = api().series(caller(), point, name, start, end)
    charged(served.quota)
    read = served.read
    head = {"pdl": point.pdl, "series": name, "start": start.isoformat(), "end": end.isoformat()}
    missing = [d.isoformat() for d in read.missing]
    if read.fetching:
        return pending_answer(head, read)
    response = jsonify(status="complete" if read.complete else "incomplete", **head, unit=UNITS[name],
                       first_available=read.first_day.isoformat(), last_available=read.last_day.isoformat(),
                       reason=read.blocked, missing_days=missing, partial_days=[d.isoformat() for d in read.partial],
                       values=values_of(read))
    api().keep_answer(point, read, VARIANT, response.get_data())
    return response


@bp.get("/meters/<pdl>/consumption/daily")
def daily_consumption(pdl: str):
    return series_answer(pdl, "daily")


@bp.get("/meters/<pdl>/consumption/load-curve")
def load_curve(pdl: str):
    return series_answer(pdl, "curve")


@bp.get("/meters/<pdl>/consumption/max-power")
def max_power(pdl: str):
    return series_answer(pdl, "max")


@bp.get("/meters/<pdl>/production/daily")
def daily_production(pdl: str):
    return series_answer(pdl, "production_daily")


@bp.get("/meters/<pdl>/production/load-curve")
def production_load_curve(pdl: str):
    return series_answer(pdl, "production_curve")


def entry_answer(pdl: str, name: str):
    point = own(pdl)
    served = api().entry(caller(), point, name)
    charged(served.quota)
    read = served.read
    if read.value is not None:
        return jsonify(pdl=point.pdl, **{name: read.value})
    if read.fetching:
        retry = max(1, read.retry_after)
        response = jsonify(status="pending", pdl=point.pdl, retry_after=retry, reason=None)
        response.status_code = 202
        response.headers["Retry-After"] = str(retry)
        return response
    code = "CONSENT_NEEDED" if read.blocked == "consent_needed" else "SERIES_NOT_AVAILABLE"
    raise ApiError(404, code, "Consentement Enedis à renouveler pour ce compteur." if code == "CONSENT_NEEDED"
                   else "Enedis ne fournit ces données que pour un compteur de consommation.")


@bp.get("/meters/<pdl>/contract")
def contract(pdl: str):
    return entry_answer(pdl, CONTRACT)


@bp.get("/meters/<pdl>/address")
def address(pdl: str):
    return entry_answer(pdl, ADDRESS)


COST_MONTHS = (12, 24)


@bp.get("/meters/<pdl>/costs")
def costs(pdl: str):
    """What the meter's electricity cost under the offer the household has (or its contract suggests),
    month by month over the last 12 or 24 months, from the cached readings (the cost page's numbers)."""
    point = own(pdl)
    text = request.args.get("months", "12")
    if text not in {str(m) for m in COST_MONTHS}:
        raise ApiError(400, "INVALID_PARAMETER", "Paramètre « months » : 12 ou 24.", parameter="months")
    a = api()
    choice = offer_choice(a.session, a.cache, point)
    if choice.kva is None:  # the subscribed power comes with the contract: ask for it
        answer = entry_answer(pdl, CONTRACT)
        if answer.status_code != 202:
            raise ApiError(404, "NO_CONTRACT", "Le contrat de ce compteur n'est pas connu : les coûts ne peuvent "
                                               "pas être calculés.")
        return answer
    offer = choice.current
    if offer is None:
        cache_read()
        raise ApiError(404, "NO_OFFER", "Aucune offre ne correspond à ce compteur : choisissez-en une dans vos "
                                        "paramètres.")
    last = last_published_day(now_paris())
    first = months_back(last, int(text))
    priced = price_offers(a.session, a.cache, point, choice.kva, [offer], first, last)
    if priced.missing and point.status == "active":
        # Days not cached: asked for like any range of the series (202 while they come).
        served = a.series(caller(), point, priced.series, first, last + timedelta(days=1))
        charged(served.quota)
        if served.read.fetching:
            return pending_answer({"pdl": point.pdl, "series": priced.series, "start": first.isoformat(),
                                   "end": (last + timedelta(days=1)).isoformat()}, served.read)
    else:
        cache_read()
    return jsonify(pdl=point.pdl, first=first.isoformat(), last=last.isoformat(), kva=choice.kva,
                   offer={"id": offer.id, "name": offer.name, "supplier": offer.supplier, "option": offer.option,
                          "chosen": choice.confirmed},
                   missing_days=[d.isoformat() for d in sorted(priced.missing)],
                   cost=to_dict(priced.results[offer.id], days=False))


@bp.get("/meters/<pdl>/simulation")
def simulation(pdl: str):
    """The simulator's latest result for the meter (every offer priced over a year), as stored."""
    point = own(pdl)
    cache_read()
    stored = api().cache.get(point.user_id, SIMULATION, point=point.id)
    if not isinstance(stored, dict):
        raise ApiError(404, "NO_SIMULATION", "Aucune simulation pour ce compteur : lancez-en une depuis le simulateur.")
    return jsonify(pdl=point.pdl, simulation=stored)


# -- public data --------------------------------------------------------------------------------------


@bp.get("/tempo")
def tempo():
    start, end = range_params(MAX_PUBLIC_DAYS["tempo"])
    days = api().tempo_days(start, end)
    return jsonify(start=start.isoformat(), end=end.isoformat(),
                   days=[{"date": d.isoformat(), "colour": c} for d, c in days.items()])


@bp.get("/ecowatt")
def ecowatt():
    start, end = range_params(MAX_PUBLIC_DAYS["ecowatt"])
    rows = api().ecowatt_days(start, end)
    return jsonify(start=start.isoformat(), end=end.isoformat(),
                   days=[{"date": r.day.isoformat(), "value": r.dvalue, "message": r.message, "hours": list(r.hvalues)}
                         for r in rows])


@bp.get("/national-consumption")
def national_consumption():
    start, end = range_params(MAX_PUBLIC_DAYS["national_consumption"])
    rows = api().national_consumption(datetime.combine(start, time(0), PARIS), datetime.combine(end, time(0), PARIS))
    return jsonify(start=start.isoformat(), end=end.isoformat(), unit="MW",
                   values=[{"series": r.series, "start": r.start_at.astimezone(PARIS).isoformat(),
                            "end": r.end_at.astimezone(PARIS).isoformat(), "mw": r.value_mw} for r in rows])

