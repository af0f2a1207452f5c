"""Enedis Data Connect emulator: consent page, OAuth token, and the nine data endpoints.

Paths are Enedis's own (only the base URL changes):

- ``GET /dataconnect/v1/oauth2/authorize`` — the consent page (French HTML). Query:
  ``client_id``, ``response_type=code``, ``duration`` (ISO 8601, at most ``P3Y``),
  ``state`` (≤ 100 characters), ``redirect_uri`` (required here: the sandbox has no
  registered URL). Bad parameters give 400 ``{error: "invalid_request", error_description}``.
  The page lists the nine sandbox customers (digits 0–8, see ``sandbox.enedis_data``); the
  last digit of ``state`` preselects one, as Enedis's sandbox does. Its form POSTs back to
  the same path (plain HTML, no JavaScript) with the same query string and fields
  ``customer`` (digit) and ``decision`` (``approve`` or ``refuse``); the answer is a 302 to
  ``redirect_uri`` with ``code``, ``state``, ``usage_point_id`` (``;``-separated PRMs) or
  ``error=access_denied`` and ``state``.
  **Automatic path for tests and scripts**: add ``auto=approve`` or ``auto=refuse`` (and
  optionally ``customer=<digit>``, else the state's last digit, else 0) to the GET query:
  the page is skipped and the 302 comes at once.
- ``POST /oauth2/v3/token`` — ``grant_type=client_credentials``, credentials by HTTP Basic
  or form fields; ``expires_in`` is the string ``"12600"``. ``POST /oauth2/v3/revoke``: 200.
- the metering and customer endpoints (see ``DATA_PATHS``), bearer token required.

Data rules (``upstream-apis.md``): ``[start, end[`` with ``start < end ≤ today`` (Paris,
sandbox clock); load curve ≤ 7 days per call (``ADAM-DC-0015``); history 24 months + 15
days for load curves, 36 months + 15 days for daily energy (``ADAM-DC-0016``) and max
power (``ADAM-ERR0125``); before the meter's last activation ``ADAM-ERR0123``; before a
consent start ``ADAM-DC-0009`` (only PRMs in ``app.config["CONSENT_STARTS"]``,
``{prm: "YYYY-MM-DD"}``); customer 2 ``ADAM-ERR0075`` on the consumption load curve;
consumption asked on a production point or the reverse ``ADAM-ERR0069``; customer 8, any
PRM in ``state().revoked`` and any active ``revoke`` fault for the PRM ``ADAM-DC-0008``;
customer 4 misses Tuesdays and Wednesdays. Day D is published at 08:00 Paris on D+1;
a window with nothing published (or only gaps) is a 404 ``no_data_found``.
Unknown 14-digit PRMs are generic consumers with a load curve.

Consent register: as at Enedis, a data call for a PRM that never consented to the calling
application (the client id its token was issued to) answers 403 ``ADAM-DC-0008``. The
register is filled by the consent page when the household approves, by
``POST /_sandbox/consents``, at start for the clients named in ``REGISTER_CUSTOMERS`` (the
nine test customers), and ``REGISTER_ALL`` makes every PRM count as consented.

Customer data answers are wrapped in ``customer`` as Enedis's gateway sends them
(``customer.identity``, ``customer.contact_data``).
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request

from sandbox import enedis_data as data
from sandbox.core import bearer_token, days, json_error, state

bp = Blueprint("enedis", __name__)

PRM_RE = re.compile(r"^[0-9]{14}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DURATION_RE = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
MAX_DURATION_DAYS = 3 * 365 + 1
TOKEN_SCOPE = "am_application_scope default"

DATA_PATHS = {
    "daily_consumption": "/metering_data_dc/v5/daily_consumption",
    "consumption_load_curve": "/metering_data_clc/v5/consumption_load_curve",
    "daily_consumption_max_power": "/metering_data_dcmp/v5/daily_consumption_max_power",
    "daily_production": "/metering_data_dp/v5/daily_production",
    "production_load_curve": "/metering_data_plc/v5/production_load_curve",
    "contracts": "/customers_upc/v5/usage_points/contracts",
    "addresses": "/customers_upa/v5/usage_points/addresses",
    "identity": "/customers_i/v5/identity",
    "contact_data": "/customers_cd/v5/contact_data",
}


def error(status: int, code: str, description: str):
    return json_error(status, {"error": code, "error_description": description})


def invalid(description: str):
    return error(400, "invalid_request", description)


# -- consent page ---------------------------------------------------------------------------

def duration_days(value: str) -> float | None:
    match = DURATION_RE.match(value or "")
    if not match:
        return None
    years, months, weeks, days_ = (int(x or 0) for x in match.groups())
    return years * 365.25 + months * 30.44 + weeks * 7 + days_


def consent_params() -> tuple[dict[str, str], str | None]:
    args = request.args
    params = {k: args.get(k, "") for k in ("client_id", "response_type", "duration", "state", "redirect_uri")}
    if not params["client_id"]:
        return params, "client_id parameter is required."
    if params["response_type"] != "code":
        return params, "response_type must be 'code'."
    length = duration_days(params["duration"])
    if length is None or length <= 0:
        return params, "duration must be an ISO 8601 duration (e.g. P1Y)."
    if length > MAX_DURATION_DAYS:
        return params, "duration must not exceed P3Y."
    if len(params["state"]) > 100:
        return params, "state must not exceed 100 characters."
    redirect_uri = params["redirect_uri"]
    if not redirect_uri or urlsplit(redirect_uri).scheme not in ("http", "https"):
        return params, "redirect_uri parameter is required (absolute http(s) URL)."
    return params, None


def preselected(state_value: str) -> int:
    return int(state_value[-1]) if state_value and state_value[-1].isdigit() else 0


def come_back(redirect_uri: str, query: dict[str, str]):
    parts = urlsplit(redirect_uri)
    extra = urlencode(query, safe=";")
    full = f"{parts.query}&{extra}" if parts.query else extra
    return redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, full, parts.fragment)), code=302)


def decide(params: dict[str, str], decision: str, digit: int):
    back = {"state": params["state"]} if params["state"] else {}
    if decision != "approve":
        return come_back(params["redirect_uri"], {"error": "access_denied", **back})
    customer = data.customer_by_digit(digit)
    state().register(params["client_id"], [p.prm for p in customer.points])
    return come_back(params["redirect_uri"], {
        "code": secrets.token_urlsafe(24),
        **back,
        "usage_point_id": ";".join(p.prm for p in customer.points),
    })


@bp.route("/dataconnect/v1/oauth2/authorize", methods=["GET", "POST"])
def authorize():
    params, problem = consent_params()
    if problem:
        return invalid(problem)
    source = request.form if request.method == "POST" else request.args
    digit_text = source.get("customer", "")
    if digit_text and not (digit_text.isdigit() and int(digit_text) < len(data.CUSTOMERS)):
        return invalid("customer must be a digit from 0 to 8.")
    digit = int(digit_text) if digit_text else preselected(params["state"])
    decision = request.form.get("decision", "") if request.method == "POST" else request.args.get("auto", "")
    if decision:
        if decision not in ("approve", "refuse"):
            return invalid("decision must be approve or refuse.")
        return decide(params, decision, digit)
    return render_template("enedis_consent.html", customers=data.CUSTOMERS, selected=digit,
                           client_id=params["client_id"], action=request.full_path.rstrip("?"))


# -- token ----------------------------------------------------------------------------------

@bp.post("/oauth2/v3/token")
def token():
    if request.mimetype != "application/x-www-form-urlencoded":
        return error(415, "invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
    grant_type = request.form.get("grant_type", "")
    if not grant_type:
        return invalid("grant_type parameter is required.")
    if grant_type != "client_credentials":
        return error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, client_secret = auth.username or "", auth.password or ""
    else:
        client_id, client_secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    if not client_id and not client_secret:
        return invalid("client credentials are required (HTTP Basic or form fields).")
    if not state().check_client(client_id, client_secret):
        return error(401, "invalid_client", "Client authentication failed.")
    return jsonify(access_token=state().issue_token("enedis", client_id), token_type="Bearer",
                   expires_in="12600", scope=TOKEN_SCOPE)


@bp.post("/oauth2/v3/revoke")
def revoke():
    return "", 200


# -- data endpoints -------------------------------------------------------------------------

def unauthorized(missing: bool = False):
    """The WSO2 gateway's faults: 900902 without a bearer token, 900901 for a bad or expired one."""
    if missing:
        return json_error(401, {"fault": {"code": 900902, "message": "Missing Credentials",
                                          "description": "Invalid Credentials. Make sure your API invocation call "
                                                         "has a header: 'Authorization : Bearer ACCESS_TOKEN'"}})
    return json_error(401, {"fault": {"code": 900901, "message": "Invalid Credentials",
                                      "description": "Invalid Credentials. Make sure you have given the correct access token"}})


def consent_revoked(prm: str, point: data.Point) -> bool:
    s = state()
    if point.revoked or prm in s.revoked:
        return True
    now = s.time()
    with s.lock:
        # The gateway hook has already spent this call's count (a fault at 0 left in the list
        # was spent by this very call: spent ones are dropped at the next call's start).
        return any(f.kind == "revoke" and f.prm in ("", prm) and request.path.startswith(f.path)
                   and (f.until is None or now < f.until) and (f.calls is None or f.calls >= 0)
                   for f in s.faults)


def authorised_point():
    """(customer, point) for the request's PRM, or an error response."""
    from sandbox import ENEDIS_TOKEN_MAX_AGE

    token_value = bearer_token()
    if not token_value:
        return None, unauthorized(missing=True)
    client_id = state().token_client("enedis", token_value, ENEDIS_TOKEN_MAX_AGE)
    if client_id is None:
        return None, unauthorized()
    prm = request.args.get("usage_point_id", "")
    if not prm:
        return None, invalid("usage_point_id parameter is required.")
    if not PRM_RE.match(prm):
        return None, invalid("usage_point_id must be 14 digits.")
    customer, point = data.lookup(prm)
    if not state().has_consent(client_id, prm) or consent_revoked(prm, point):
        return None, error(403, "ADAM-DC-0008", "No consent can be found for this customer and this usage point.")
    return (customer, point), None


def parse_window():
    start_text, end_text = request.args.get("start", ""), request.args.get("end", "")
    if not start_text or not end_text:
        return None, invalid("start and end parameters are required.")
    if not (DAY_RE.match(start_text) and DAY_RE.match(end_text)):
        return None, invalid("start and end must be dates YYYY-MM-DD.")
    try:
        start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
    except ValueError:
        return None, invalid("start and end must be valid dates YYYY-MM-DD.")
    if start >= end:
        return None, invalid("The start date must be strictly before the end date.")
    if end > state().today():
        return None, invalid("The end date parameter must be earlier than or equal to the current date.")
    return (start, end), None


def months_before(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for d in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def consent_start(prm: str) -> date | None:
    value = (current_app.config.get("CONSENT_STARTS") or {}).get(prm)
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10]) if value else None


def metering(resource: str, kind: str, load_curve: bool, history_months: int, history_code: str):
    found, problem = authorised_point()
    if problem:
        return problem
    _, point = found
    window, problem = parse_window()
    if problem:
        return problem
    start, end = window
    if (kind == data.CONSUMPTION and not point.consumes) or (kind == data.PRODUCTION and not point.produces):
        other = "production" if kind == data.CONSUMPTION else "consumption"
        return error(400, "ADAM-ERR0069", f"The usage point is a {other} point: no {kind} data.")
    if load_curve and kind == data.CONSUMPTION and not point.load_curve:
        return error(400, "ADAM-ERR0075", "The load curve collection is not activated on this usage point.")
    if load_curve and (end - start).days > 7:
        return error(400, "ADAM-DC-0015", "The requested period must not exceed 7 days for the load curve.")
    today = state().today()
    limit = months_before(today, history_months) - timedelta(days=15)
    if start < limit:
        return error(400, history_code,
                     f"The start date must be after {limit.isoformat()} (history limit of this resource).")
    consent = consent_start(point.prm)
    if consent is not None and start < consent:
        return error(403, "ADAM-DC-0009", f"The start date is before the consent start ({consent.isoformat()}).")
    if start < point.activation:
        return error(400, "ADAM-ERR0123",
                     f"The start date is before the last activation of the meter ({point.activation.isoformat()}).")
    now = state().now()
    available = [d for d in days(start, end) if data.published(d, now) and not data.is_gap_day(point, d)]
    items: list[dict[str, str]] = []
    for day in available:
        if resource == "daily":
            items.append({"date": day.isoformat(), "value": str(data.daily_energy(point.prm, day, kind))})
        elif resource == "max_power":
            moment, va = data.max_power(point.prm, day)
            items.append({"date": moment, "value": str(va)})
        else:
            items.extend({"date": stamp, "value": str(watts), "interval_length": "PT30M", "measure_type": "B"}
                         for stamp, watts in data.curve(point.prm, day, kind))
    fault = g.get("fault")
    if fault is not None and fault.kind == "partial" and available:
        items = late_newest_day(resource, items, available[-1], fault.points)
    if not items:
        return error(404, "no_data_found", "No data found for the requested period.")
    if resource == "daily":
        reading_type = {"measurement_kind": "energy", "measuring_period": "P1D", "unit": "Wh", "aggregate": "sum"}
    elif resource == "max_power":
        reading_type = {"measurement_kind": "power", "measuring_period": "P1D", "unit": "VA", "aggregate": "maximum"}
    else:
        reading_type = {"measurement_kind": "power", "unit": "W", "aggregate": "average"}
    return jsonify(meter_reading={
        "usage_point_id": point.prm,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "quality": "BRUT",
        "reading_type": reading_type,
        "interval_reading": items,
    })


def late_newest_day(resource: str, items: list[dict[str, str]], newest: date, points: int) -> list[dict[str, str]]:
    """The newest day as a late meter sends it: its curve cut after `points` intervals, its
    daily value and max power not there yet. Asked again without the fault, it is complete."""
    if resource != "curve":
        return [i for i in items if not i["date"].startswith(newest.isoformat())]
    first_label = (datetime.combine(newest, datetime.min.time()) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    start = next(n for n, i in enumerate(items) if i["date"] == first_label)
    return items[:start + points]


@bp.get(DATA_PATHS["daily_consumption"])
def daily_consumption():
    return metering("daily", data.CONSUMPTION, False, 36, "ADAM-DC-0016")


@bp.get(DATA_PATHS["consumption_load_curve"])
def consumption_load_curve():
    return metering("curve", data.CONSUMPTION, True, 24, "ADAM-DC-0016")


@bp.get(DATA_PATHS["daily_consumption_max_power"])
def daily_consumption_max_power():
    return metering("max_power", data.CONSUMPTION, False, 36, "ADAM-ERR0125")


@bp.get(DATA_PATHS["daily_production"])
def daily_production():
    return metering("daily", data.PRODUCTION, False, 36, "ADAM-DC-0016")


@bp.get(DATA_PATHS["production_load_curve"])
def production_load_curve():
    return metering("curve", data.PRODUCTION, True, 24, "ADAM-DC-0016")


def customer_point():
    found, problem = authorised_point()
    if problem:
        return None, problem
    customer, point = found
    if not point.consumes:
        return None, error(400, "ADAM-ERR0069", "Customer data exists for consumption points only.")
    return (customer, point), None


def usage_point_block(point: data.Point) -> dict:
    return {"usage_point_id": point.prm, "usage_point_status": "com", "meter_type": "AMM"}


@bp.get(DATA_PATHS["contracts"])
def contracts():
    found, problem = customer_point()
    if problem:
        return problem
    customer, point = found
    contract = {
        "segment": "C5",
        "subscribed_power": f"{point.subscribed_kva} kVA",
        "last_activation_date": f"{point.activation.isoformat()}+01:00",
        "distribution_tariff": point.distribution_tariff,
        "contract_type": "CRAE",
        "contract_status": "SERVC",
        "last_distribution_tariff_change_date": f"{max(point.activation, date(2017, 5, 25)).isoformat()}+01:00",
    }
    offpeak = state().offpeak_of(point.prm, point.offpeak_hours)
    if offpeak:
        contract["offpeak_hours"] = offpeak
    return jsonify(customer={"customer_id": customer.customer_id,
                             "usage_points": [{"usage_point": usage_point_block(point), "contracts": contract}]})


@bp.get(DATA_PATHS["addresses"])
def addresses():
    found, problem = customer_point()
    if problem:
        return problem
    customer, point = found
    block = usage_point_block(point)
    block["usage_point_addresses"] = {
        "street": customer.street, "postal_code": customer.postal_code,
        "insee_code": customer.insee_code, "city": customer.city, "country": "France",
        "geo_points": {"latitude": customer.latitude, "longitude": customer.longitude, "altitude": "0"},
    }
    return jsonify(customer={"customer_id": customer.customer_id, "usage_points": [{"usage_point": block}]})


@bp.get(DATA_PATHS["identity"])
def identity():
    found, problem = customer_point()
    if problem:
        return problem
    customer, _ = found
    return jsonify(customer={"customer_id": customer.customer_id, "identity": {"natural_person": {
        "title": customer.title, "firstname": customer.firstname, "lastname": customer.lastname}}})


@bp.get(DATA_PATHS["contact_data"])
def contact_data():
    found, problem = customer_point()
    if problem:
        return problem
    customer, _ = found
    return jsonify(customer={"customer_id": customer.customer_id,
                             "contact_data": {"phone": customer.phone, "email": customer.email}})
