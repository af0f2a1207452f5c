"""The RTE data portal emulator: OAuth token, Tempo, EcoWatt v5, national consumption and
generation forecasts, on the upstream paths (and RTE's `…/sandbox/…` aliases).

Follows docs/upstream-apis.md ("RTE" and "Domain rules"). The data come from the pure
generators in `sandbox.rte_data`; the clock is the sandbox's (`state().now()`), so tests can
stand before or after 10:30, when tomorrow's Tempo colour appears.

Config keys read from `current_app.config`: TEMPO_MISSING_VALUE_DATES (list of YYYY-MM-DD:
those Tempo values come without `value`, as seen once upstream; empty by default).
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import RTE_TOKEN_MAX_AGE
from sandbox import rte_data as data
from sandbox.core import PARIS, bearer_token, json_error, paris_midnight, state

bp = Blueprint("rte", __name__)

TEMPO_PATHS = ("/open_api/tempo_like_supply_contract/v1/tempo_like_calendars",
               "/open_api/tempo_like_supply_contract/v1/sandbox/tempo_like_calendars")
ECOWATT_PATHS = ("/open_api/ecowatt/v5/signals", "/open_api/ecowatt/v5/sandbox/signals")
CONSUMPTION_PATHS = ("/open_api/consumption/v1/short_term", "/open_api/consumption/v1/sandbox/short_term")
GENERATION_PATHS = ("/open_api/generation_forecast/v3/forecasts",
                    "/open_api/generation_forecast/v3/sandbox/forecasts")
RTE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
TEMPO_PUBLISHED = time(10, 30)


class RteError(Exception):
    """An error answered in RTE's shape."""

    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers or {}


def rte_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": error, "error_description": description, "error_uri": "",
            "error_details": {"transaction_id": str(uuid.uuid4())}}
    return json_error(status, body, headers)


@bp.errorhandler(RteError)
def _answer_error(exc: RteError) -> Response:
    return rte_error(exc.status, exc.error, exc.description, exc.headers)


def stamp(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat(timespec="seconds")


# -- token ----------------------------------------------------------------------------------

def _credentials() -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
            return client_id, secret
        except (ValueError, UnicodeDecodeError):
            return "", ""
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


@bp.route("/token/oauth/", methods=["POST"], strict_slashes=False)
def token():
    client_id, secret = _credentials()
    if not state().check_client(client_id, secret):
        return json_error(401, {"error": "invalid_client", "error_description": "Invalid client credentials"})
    return jsonify(access_token=state().issue_token("rte", client_id), token_type="Bearer",
                   expires_in=RTE_TOKEN_MAX_AGE)


def authorised_client() -> str:
    token = bearer_token()
    client = state().token_client("rte", token, RTE_TOKEN_MAX_AGE) if token else None
    if not client:
        raise RteError(401, "invalid_token", "Invalid or expired access token" if token else "Missing access token")
    return client


# -- dates ----------------------------------------------------------------------------------

def parse_window(code: str) -> tuple[datetime, datetime] | None:
    """`start_date`/`end_date` from the query: both, or neither (None). Errors as `code`_F0x."""
    start_text, end_text = request.args.get("start_date"), request.args.get("end_date")
    if start_text is None and end_text is None:
        return None
    if start_text is None or end_text is None:
        missing = "start_date" if start_text is None else "end_date"
        raise RteError(400, f"{code}_F01", f"The {missing} parameter is missing: start_date and end_date "
                                           "must be given together.")
    moments = []
    for name, text in (("start_date", start_text), ("end_date", end_text)):
        try:
            if not RTE_DATE.match(text):
                raise ValueError(text)
            moments.append(datetime.fromisoformat(text))
        except ValueError:
            raise RteError(400, f"{code}_F06", f"The {name} parameter is not in the expected format "
                                               "YYYY-MM-DDThh:mm:ss±hh:mm (URL-encode '+').") from None
    start, end = moments
    if start > end:
        raise RteError(400, f"{code}_F02", "The start_date parameter is later than end_date.")
    # Calendar days in Paris (wall clock: a 23-hour DST day is a whole day).
    start_paris, end_paris = start.astimezone(PARIS), end.astimezone(PARIS)
    if end_paris < start_paris + timedelta(days=1):
        raise RteError(400, f"{code}_F05", "The period between start_date and end_date is under one day.")
    if end_paris > start_paris + timedelta(days=366):
        raise RteError(400, f"{code}_F03", "The period between start_date and end_date is over 366 days.")
    return start, end


def days_in(start: datetime, end: datetime) -> list[date]:
    """The Paris days touched by [start, end[."""
    first = start.astimezone(PARIS).date()
    last = (end.astimezone(PARIS) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# -- Tempo ----------------------------------------------------------------------------------

def tempo_last_known(now: datetime) -> date:
    """Tomorrow once its colour is published (10:30 Paris), else today."""
    today = now.date()
    return today + timedelta(days=1) if now.time() >= TEMPO_PUBLISHED else today


def tempo_value(day: date, missing: set[str]) -> dict[str, Any]:
    value = {"start_date": stamp(paris_midnight(day)), "end_date": stamp(paris_midnight(day + timedelta(days=1))),
             "value": data.tempo_colour(day), "updated_date": stamp(data.tempo_updated(day))}
    if day.isoformat() in missing:
        del value["value"]
    return value


def tempo():
    authorised_client()
    code = "TMPLIKSUPCON_TMPLIKCAL"
    fallback = request.args.get("fallback_status")
    if fallback is not None and fallback not in ("true", "false"):
        raise RteError(400, f"{code}_F07", "The fallback_status parameter must be true or false.")
    window = parse_window(code)
    now = state().now()
    last = tempo_last_known(now)
    if window is None:
        start = paris_midnight(date(data.season_of(now.date()), 9, 1))
        end = paris_midnight(last + timedelta(days=1))
        wanted = days_in(start, end)
    else:
        start, end = window
        if end > paris_midnight(now.date() + timedelta(days=2)):
            raise RteError(400, f"{code}_F04", "The end_date parameter is later than D+2.")
        wanted = [d for d in days_in(start, end) if d <= last]
    missing = set(current_app.config.get("TEMPO_MISSING_VALUE_DATES") or ())
    values = [tempo_value(day, missing) for day in sorted(wanted, reverse=True)]
    if fallback == "true":
        for value in values:
            value["fallback"] = "false"
    return jsonify(tempo_like_calendars={"start_date": stamp(start), "end_date": stamp(end), "values": values})


for _path in TEMPO_PATHS:
    bp.add_url_rule(_path, endpoint=f"tempo{_path.count('sandbox')}", view_func=tempo, methods=["GET"])


# -- EcoWatt --------------------------------------------------------------------------------

def ecowatt():
    client = authorised_client()
    wait = state().ecowatt_wait(client)
    if wait > 0:
        raise RteError(429, "TOO_MANY_REQUESTS", "EcoWatt signals may be read once every 15 minutes.",
                       {"Retry-After": str(wait)})
    now = state().now()
    generated = now.replace(minute=0, second=0, microsecond=0)
    return jsonify(signals=data.ecowatt_signals(now.date(), generated))


for _path in ECOWATT_PATHS:
    bp.add_url_rule(_path, endpoint=f"ecowatt{_path.count('sandbox')}", view_func=ecowatt, methods=["GET"])


# -- national consumption -------------------------------------------------------------------

def consumption_updated(kind: str, day: date, slot_end: datetime, now: datetime) -> datetime:
    if kind == "REALISED":
        return min(slot_end, now)
    if kind == "ID":
        return min(paris_midnight(day), now)
    lead = 1 if kind == "D-1" else 2
    return paris_midnight(day - timedelta(days=lead)).replace(hour=19)


def consumption():
    authorised_client()
    code = "CONSUMPTION_SHORTTERM"
    types = [t.strip() for t in request.args.get("type", ",".join(data.CONSUMPTION_TYPES)).split(",")]
    bad = [t for t in types if t not in data.CONSUMPTION_TYPES]
    if bad or not types:
        raise RteError(400, f"{code}_F07", f"Invalid type {', '.join(bad) or '(empty)'}: expected one or "
                                           f"more of {', '.join(data.CONSUMPTION_TYPES)}.")
    now = state().now()
    window = parse_window(code)
    start, end = window or (paris_midnight(now.date()), paris_midnight(now.date() + timedelta(days=1)))
    horizon = {"REALISED": now, "ID": paris_midnight(now.date() + timedelta(days=1)),
               "D-1": paris_midnight(now.date() + timedelta(days=2)),
               "D-2": paris_midnight(now.date() + timedelta(days=3))}
    series = []
    for kind in dict.fromkeys(types):
        values = []
        for moment in data.quarter_hours(start, min(end, horizon[kind])):
            slot_end = data.quarter_hours_end(moment)
            if kind == "REALISED" and slot_end > now:
                break
            value = data.realised_load(moment) if kind == "REALISED" else data.forecast_load(kind, moment)
            values.append({"start_date": stamp(moment), "end_date": stamp(slot_end),
                           "updated_date": stamp(consumption_updated(kind, moment.date(), slot_end, now)),
                           "value": value})
        series.append({"type": kind, "start_date": stamp(start), "end_date": stamp(end), "values": values})
    return jsonify(short_term=series)


for _path in CONSUMPTION_PATHS:
    bp.add_url_rule(_path, endpoint=f"consumption{_path.count('sandbox')}", view_func=consumption, methods=["GET"])


# -- generation forecast --------------------------------------------------------------------

def generation_forecasts():
    authorised_client()
    code = "GENERATIONFORECAST"
    production = [t.strip() for t in request.args.get("production_type", "SOLAR,WIND_ONSHORE").split(",")]
    kinds = [t.strip() for t in request.args.get("type", "D-1").split(",")]
    bad = [t for t in production if t not in data.PRODUCTION_TYPES] + [t for t in kinds if t not in data.FORECAST_TYPES]
    if bad:
        raise RteError(400, f"{code}_F07", f"Invalid production_type or type: {', '.join(bad)}.")
    now = state().now()
    window = parse_window(code)
    start, end = window or (paris_midnight(now.date()), paris_midnight(now.date() + timedelta(days=1)))
    forecasts = []
    for production_type in production:
        for kind in kinds:
            values, moment = [], start
            while moment < end:
                following = data.next_hour(moment)
                values.append({"start_date": stamp(moment), "end_date": stamp(following),
                               "updated_date": stamp(min(now, paris_midnight(moment.astimezone(PARIS).date()))),
                               "value": data.generation(production_type, kind, moment)})
                moment = following
            forecasts.append({"production_type": production_type, "type": kind, "start_date": stamp(start),
                              "end_date": stamp(end), "values": values})
    return jsonify(forecasts=forecasts)


for _path in GENERATION_PATHS:
    bp.add_url_rule(_path, endpoint=f"generation{_path.count('sandbox')}", view_func=generation_forecasts,
                    methods=["GET"])
