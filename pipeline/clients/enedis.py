"""Enedis Data Connect client: metering data, contract and address, normalised.

Output is normalised for the rest of Relevé: integer values, interval *starts* (Enedis
labels interval ends), timezone-aware Europe/Paris times, DST days complete (46/50
half-hours, the repeated hour kept) and energy per load-curve point in Wh.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from models.calendar import PARIS
from models.daypack import energy_wh  # the cache derives the energy the same way (format 2 stores watts only)
from models.pdl import is_pdl
from pipeline.clients.base import (
    ConsentNeeded,
    HistoryExhausted,
    HttpTransport,
    Limiter,
    LoadCurveNotActivated,
    NoData,
    PermanentError,
    Response,
    Throttled,
    Unavailable,
    UpstreamError,
    WrongPointKind,
    normalise_code,
    short_retries,
    with_token,
)
from pipeline.clients.tokens import SecretStore, TokenProvider

log = logging.getLogger(__name__)
UPSTREAM = "enedis"

PATHS = {
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
TOKEN_PATH = "/oauth2/v3/token"
LOAD_CURVE_MAX_DAYS = 7

# Keyed on the normalised code, never on the HTTP status (the same code comes with several).
ERRORS: dict[str, type[UpstreamError]] = {
    "ADAM-DC-0007": ConsentNeeded,
    "ADAM-DC-0008": ConsentNeeded,
    "ADAM-DC-0009": HistoryExhausted,
    "ADAM-DC-0016": HistoryExhausted,
    "ADAM-ERR0125": HistoryExhausted,
    "ADAM-ERR0123": HistoryExhausted,
    "ADAM-ERR0069": WrongPointKind,
    "ADAM-ERR0075": LoadCurveNotActivated,
    "ADAM-DC-0015": PermanentError,
    "INVALID-REQUEST": PermanentError,
    "NO-DATA-FOUND": NoData,
    "STM-ERR-0000014": NoData,
    "STM-ERR-0000020": NoData,
    "ADAM-DC-0500": Unavailable,
    "STM-ERR-0000001": Unavailable,
}
THROTTLE_FAULT = 900807
INVALID_CREDENTIALS_FAULT = 900901
DEFAULT_429_BACKOFF = 2.0  # when a 429 announces no wait


class AuthFailed(PermanentError):
    """The application's credentials are refused (still 401 after one token renewal)."""


@dataclass(frozen=True)
class DailyValue:
    day: date
    value: int  # Wh


@dataclass(frozen=True)
class LoadPoint:
    start: datetime  # interval start, aware, Europe/Paris
    minutes: int
    watts: int  # average power over the interval
    wh: int  # energy over the interval

    @property
    def day(self) -> date:
        return self.start.date()


@dataclass(frozen=True)
class MaxPower:
    day: date
    va: int
    at: datetime  # local time of the peak, aware


def to_json(item: DailyValue | LoadPoint | MaxPower) -> dict[str, Any]:
    """A JSON-able dict of a normalised reading (dates as ISO text)."""
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in asdict(item).items()}


_INTERVAL = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")


def interval_minutes(text: str) -> int:
    match = _INTERVAL.match(text or "")
    if not match or not any(match.groups()):
        raise Unavailable(f"enedis: unknown interval_length {text!r}", upstream=UPSTREAM)
    hours, minutes = (int(g or 0) for g in match.groups())
    return hours * 60 + minutes


def _naive(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")


def resolve_local(label: datetime, after: datetime | None) -> datetime:
    """The aware instant of a naive Paris label: the earliest reading later than `after`.

    On fall-back day the labels of one hour repeat; the first occurrence is taken until
    it would go back in time, which keeps the repeated hour instead of dropping it.
    """
    candidates = sorted({label.replace(tzinfo=PARIS, fold=f).astimezone(UTC) for f in (0, 1)})
    for candidate in candidates:
        if after is None or candidate > after:
            return candidate.astimezone(PARIS)
    return candidates[-1].astimezone(PARIS)


def parse_load_curve(body: dict[str, Any]) -> list[LoadPoint]:
    """Load-curve items (labels = local interval ends) into interval starts, DST-safe."""
    reading = body["meter_reading"]
    default_length = (reading.get("reading_type") or {}).get("measuring_period") or "PT30M"
    points, previous_end = [], None
    for item in reading.get("interval_reading") or []:
        minutes = interval_minutes(item.get("interval_length") or default_length)
        end = resolve_local(_naive(item["date"]), previous_end.astimezone(UTC) if previous_end else None)
        previous_end = end
        start = (end.astimezone(UTC) - timedelta(minutes=minutes)).astimezone(PARIS)
        watts = int(item["value"])
        points.append(LoadPoint(start=start, minutes=minutes, watts=watts, wh=energy_wh(watts, minutes)))
    return points


def parse_daily(body: dict[str, Any]) -> list[DailyValue]:
    return [DailyValue(date.fromisoformat(i["date"][:10]), int(i["value"]))
            for i in body["meter_reading"].get("interval_reading") or []]


def parse_max_power(body: dict[str, Any]) -> list[MaxPower]:
    out = []
    for item in body["meter_reading"].get("interval_reading") or []:
        at = resolve_local(_naive(item["date"]), None)
        out.append(MaxPower(day=at.date(), va=int(item["value"]), at=at))
    return out


def parse_kva(text: str | None) -> int | None:
    match = re.search(r"(\d+)", text or "")
    return int(match.group(1)) if match else None


def parse_contract(body: dict[str, Any]) -> dict[str, Any]:
    point = body["customer"]["usage_points"][0]
    up, contract = point.get("usage_point") or {}, point.get("contracts") or {}
    activation = contract.get("last_activation_date")
    return {
        "usage_point_id": up.get("usage_point_id"),
        "usage_point_status": up.get("usage_point_status"),
        "meter_type": up.get("meter_type"),
        "segment": contract.get("segment"),
        "subscribed_power_kva": parse_kva(contract.get("subscribed_power")),
        "subscribed_power": contract.get("subscribed_power"),
        "distribution_tariff": contract.get("distribution_tariff"),
        "offpeak_hours": contract.get("offpeak_hours"),
        "contract_status": contract.get("contract_status"),
        "last_activation_date": activation[:10] if activation else None,
        "last_distribution_tariff_change_date": (contract.get("last_distribution_tariff_change_date") or "")[:10] or None,
    }


def parse_address(body: dict[str, Any]) -> dict[str, Any]:
    up = body["customer"]["usage_points"][0]["usage_point"]
    address = up.get("usage_point_addresses") or {}
    keys = ("street", "locality", "postal_code", "insee_code", "city", "country", "geo_points")
    return {"usage_point_id": up.get("usage_point_id"), **{k: address.get(k) for k in keys}}


def retry_after_of(response: Response, now: datetime | None = None) -> float | None:
    """The wait a 429 announces: Retry-After (seconds or HTTP date), else nextAccessTime."""
    from pipeline.ratelimit import MAX_ANNOUNCED_WAIT, parse_next_access_time, parse_retry_after

    now = now or datetime.now(UTC)
    wait = parse_retry_after(response.headers.get("Retry-After"), now)
    if wait is None and isinstance(response.body, dict):
        fault = response.body.get("fault") or {}
        for text in (response.body.get("nextAccessTime"), fault.get("nextAccessTime"), fault.get("description"),
                     response.body.get("error_description")):
            when = parse_next_access_time(text) if text else None
            if when is not None:
                wait = min(max(0.0, (when - now).total_seconds()), MAX_ANNOUNCED_WAIT)
                break
    return wait


class EnedisClient:
    """Reads one application's data from the Enedis gateway (or the sandbox)."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, limiter: Limiter | None = None,
                 store: SecretStore | None = None, session: requests.Session | None = None, **transport):
        self.http = HttpTransport(UPSTREAM, base_url, limiter=limiter, session=session, **transport)
        self.client_id = client_id
        self._secret = client_secret
        self.tokens = TokenProvider(f"enedis:{client_id}", self._fetch_token, store)

    # -- tokens -----------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float]:
        response = self.http.request(
            "POST", TOKEN_PATH, data={"grant_type": "client_credentials"},
            auth=(self.client_id, self._secret), headers={"Accept": "application/json"},
        )
        if response.status == 200 and isinstance(response.body, dict) and response.body.get("access_token"):
            return response.body["access_token"], float(response.body.get("expires_in") or 3600)
        if response.status == 429:
            self._throttled(response)
        if response.status >= 500:
            raise Unavailable(f"enedis: token endpoint answered {response.status}", upstream=UPSTREAM, status=response.status)
        code = normalise_code((response.body or {}).get("error", response.status)) if isinstance(response.body, dict) else ""
        raise AuthFailed(f"enedis: token refused ({response.status} {code})", upstream=UPSTREAM, code=code,
                         status=response.status)

    # -- one data call ----------------------------------------------------------------

    def get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """GET a data path, with short retries; raise the typed error of any failure."""
        return short_retries(self._get_once)(path, params)

    def _get_once(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = with_token(self.tokens, lambda headers: self.http.request("GET", path, params=params,
                                                                             headers=headers), f"enedis {path}")
        return self._check(response, path)

    def _throttled(self, response: Response) -> None:
        wait = retry_after_of(response)
        announced = wait is not None
        limiter = self.http.limiter
        if announced:
            if limiter is not None:
                limiter.block(wait)  # every worker pauses, not only this one
        elif limiter is not None:
            wait = limiter.backoff()  # exponential across the cluster: 2 s, 4 s, 8 s …
        else:
            wait = DEFAULT_429_BACKOFF
        raise Throttled(f"enedis: 429 ({'announced' if announced else 'default'} wait {wait:.1f} s)", wait,
                        upstream=UPSTREAM, status=429)

    def _check(self, response: Response, path: str) -> dict[str, Any]:
        if response.status == 200 and isinstance(response.body, dict):
            return response.body
        if response.status == 429:
            self._throttled(response)
        body = response.body if isinstance(response.body, dict) else {}
        if response.status == 401:
            raise AuthFailed("enedis: still 401 after renewing the token", upstream=UPSTREAM, status=401,
                             code=str((body.get("fault") or {}).get("code", "")))
        code = normalise_code(body.get("error") or (body.get("fault") or {}).get("code") or response.status)
        description = str(body.get("error_description") or (body.get("fault") or {}).get("message") or "")[:200]
        error = ERRORS.get(code)
        if error is None:
            error = Unavailable if response.status >= 500 or response.status == 200 else PermanentError
        raise error(f"enedis: {code} on {path}: {description}", upstream=UPSTREAM, code=code, status=response.status)

    # -- resources --------------------------------------------------------------------

    @staticmethod
    def _window(pdl: str, start: date, end: date) -> dict[str, str]:
        if not is_pdl(pdl):
            raise PermanentError(f"enedis: invalid usage point id {pdl!r}", upstream=UPSTREAM, code="INVALID-REQUEST")
        if not start < end:
            raise PermanentError(f"enedis: empty window {start}..{end}", upstream=UPSTREAM, code="INVALID-REQUEST")
        return {"usage_point_id": pdl, "start": start.isoformat(), "end": end.isoformat()}

    def _metering(self, resource: str, pdl: str, start: date, end: date) -> dict[str, Any] | None:
        try:
            return self.get(PATHS[resource], self._window(pdl, start, end))
        except NoData:
            return None

    def daily_consumption(self, pdl: str, start: date, end: date) -> list[DailyValue]:
        """Daily energy in Wh for days in [start, end)."""
        body = self._metering("daily_consumption", pdl, start, end)
        return parse_daily(body) if body else []

    def daily_production(self, pdl: str, start: date, end: date) -> list[DailyValue]:
        body = self._metering("daily_production", pdl, start, end)
        return parse_daily(body) if body else []

    def max_power(self, pdl: str, start: date, end: date) -> list[MaxPower]:
        body = self._metering("daily_consumption_max_power", pdl, start, end)
        return parse_max_power(body) if body else []

    def load_curve(self, pdl: str, start: date, end: date, *, production: bool = False) -> list[LoadPoint]:
        """Load-curve points whose interval starts fall in [start, end) (at most 7 days)."""
        if (end - start).days > LOAD_CURVE_MAX_DAYS:
            raise PermanentError(f"enedis: load-curve window over {LOAD_CURVE_MAX_DAYS} days", upstream=UPSTREAM,
                                 code="ADAM-DC-0015")
        resource = "production_load_curve" if production else "consumption_load_curve"
        body = self._metering(resource, pdl, start, end)
        return parse_load_curve(body) if body else []

    def contract(self, pdl: str) -> dict[str, Any]:
        return parse_contract(self.get(PATHS["contracts"], {"usage_point_id": pdl}))

    def address(self, pdl: str) -> dict[str, Any]:
        return parse_address(self.get(PATHS["addresses"], {"usage_point_id": pdl}))
