"""RTE data portal client: Tempo calendar, EcoWatt signals, national consumption."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import requests

from models.calendar import PARIS
from models.grid.tempo import TEMPO_COLOURS
from pipeline.clients.base import (
    HttpTransport,
    Limiter,
    PermanentError,
    Response,
    Throttled,
    Unavailable,
    normalise_code,
    short_retries,
    with_token,
)
from pipeline.clients.tokens import SecretStore, TokenProvider

log = logging.getLogger(__name__)
UPSTREAM = "rte"

TEMPO_PATH = "/open_api/tempo_like_supply_contract/v1/tempo_like_calendars"
ECOWATT_PATH = "/open_api/ecowatt/v5/signals"
CONSUMPTION_PATH = "/open_api/consumption/v1/short_term"
DEFAULT_BACKOFF = 60.0  # 429/509 without Retry-After: RTE limits are per minute or coarser


class RteAuthFailed(PermanentError):
    """RTE refuses the application's credentials, or the API is not subscribed (403)."""


@dataclass(frozen=True)
class TempoValue:
    day: date
    colour: str
    updated_at: datetime | None


@dataclass(frozen=True)
class EcoWattDay:
    day: date
    dvalue: int
    message: str
    hvalues: tuple[int, ...]
    generated_at: datetime | None


@dataclass(frozen=True)
class ConsumptionValue:
    series: str
    start: datetime
    end: datetime
    value_mw: int
    updated_at: datetime | None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(PARIS) if text else None


def rte_datetime(day: date) -> str:
    """Midnight Paris of `day` as RTE wants it: YYYY-MM-DDThh:mm:ss±hh:mm."""
    return datetime.combine(day, time(0), PARIS).isoformat(timespec="seconds")


def parse_tempo(body: dict[str, Any]) -> list[TempoValue]:
    out = []
    for item in (body.get("tempo_like_calendars") or {}).get("values") or []:
        colour = item.get("value")
        if colour not in TEMPO_COLOURS:  # seen once: a value without `value`; skip, it will be asked again
            log.warning("rte: tempo value without a colour for %s", item.get("start_date"))
            continue
        out.append(TempoValue(day=_dt(item["start_date"]).date(), colour=colour, updated_at=_dt(item.get("updated_date"))))
    return sorted(out, key=lambda v: v.day)


def parse_ecowatt(body: dict[str, Any]) -> list[EcoWattDay]:
    out = []
    for signal in body.get("signals") or []:
        values = sorted(signal.get("values") or [], key=lambda v: int(v["pas"]))
        hvalues = tuple(int(v["hvalue"]) for v in values)
        out.append(EcoWattDay(
            day=_dt(signal["jour"]).date(), dvalue=int(signal["dvalue"]), message=signal.get("message") or "",
            hvalues=hvalues, generated_at=_dt(signal.get("GenerationFichier")),
        ))
    return sorted(out, key=lambda d: d.day)  # upstream gives days in any order


def parse_consumption(body: dict[str, Any]) -> list[ConsumptionValue]:
    out = []
    for series in body.get("short_term") or []:
        for v in series.get("values") or []:
            out.append(ConsumptionValue(series=series["type"], start=_dt(v["start_date"]), end=_dt(v["end_date"]),
                                        value_mw=int(v["value"]), updated_at=_dt(v.get("updated_date"))))
    return out


class RteClient:
    """Reads RTE's public data with the application's token."""

    def __init__(self, base_url: str, token_url: str, client_id: str, client_secret: str, *,
                 limiter: Limiter | None = None, ecowatt_limiter: Limiter | None = None,
                 store: SecretStore | None = None, session: requests.Session | None = None, sandbox_paths: bool = False,
                 **transport):
        self.http = HttpTransport(UPSTREAM, base_url, limiter=limiter, session=session, **transport)
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.ecowatt_limiter = ecowatt_limiter
        self.sandbox_paths = sandbox_paths  # RTE's own sandbox serves fixed data under …/sandbox/…
        self.tokens = TokenProvider(f"rte:{client_id}", self._fetch_token, store)

    def _path(self, path: str) -> str:
        if not self.sandbox_paths:
            return path
        head, _, tail = path.rpartition("/")
        return f"{head}/sandbox/{tail}"

    def _fetch_token(self) -> tuple[str, float]:
        response = self.http.request("POST", self.token_url, auth=(self.client_id, self._secret),
                                     data={"grant_type": "client_credentials"}, headers={"Accept": "application/json"})
        if response.status == 200 and isinstance(response.body, dict) and response.body.get("access_token"):
            return response.body["access_token"], float(response.body.get("expires_in") or 7200)
        if response.status >= 500:
            raise Unavailable(f"rte: token endpoint answered {response.status}", upstream=UPSTREAM, status=response.status)
        raise RteAuthFailed(f"rte: token refused ({response.status})", upstream=UPSTREAM, status=response.status)

    def get(self, path: str, params: dict[str, str] | None = None, *, limiter: Limiter | None = None) -> dict[str, Any]:
        return short_retries(self._get_once)(path, params or {}, limiter)

    def _get_once(self, path: str, params: dict[str, str], limiter: Limiter | None) -> dict[str, Any]:
        response = with_token(self.tokens, lambda headers: self.http.request(
            "GET", self._path(path), params=params, limiter=limiter, headers=headers), f"rte {path}")
        return self._check(response, path, limiter or self.http.limiter)

    def _check(self, response: Response, path: str, limiter: Limiter | None) -> dict[str, Any]:
        if response.status == 200 and isinstance(response.body, dict):
            return response.body
        body = response.body if isinstance(response.body, dict) else {}
        transaction = (body.get("error_details") or {}).get("transaction_id")
        if transaction:
            log.warning("rte: %s on %s (transaction_id %s)", response.status, path, transaction)
        if response.status in (429, 509):
            from pipeline.ratelimit import parse_retry_after

            wait = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC)) or DEFAULT_BACKOFF
            if limiter is not None:
                limiter.block(wait)
            raise Throttled(f"rte: {response.status} on {path}, wait {wait:.0f} s", wait, upstream=UPSTREAM,
                            status=response.status)
        code = normalise_code(body.get("error") or response.status)
        message = f"rte: {response.status} {code} on {path}: {str(body.get('error_description') or '')[:200]}"
        if response.status in (401, 403):
            raise RteAuthFailed(message, upstream=UPSTREAM, code=code, status=response.status)
        if response.status >= 500 or response.status in (200, 408):
            raise Unavailable(message, upstream=UPSTREAM, code=code, status=response.status)
        raise PermanentError(message, upstream=UPSTREAM, code=code, status=response.status)

    def tempo(self, start: date, end: date) -> list[TempoValue]:
        """Tempo colours for days in [start, end), oldest first; days without a colour are left out."""
        params = {"start_date": rte_datetime(start), "end_date": rte_datetime(end), "fallback_status": "false"}
        return parse_tempo(self.get(TEMPO_PATH, params))

    def ecowatt(self) -> list[EcoWattDay]:
        """Today and the next three days (one call per 15 minutes: its own limiter)."""
        return parse_ecowatt(self.get(ECOWATT_PATH, limiter=self.ecowatt_limiter))

    def national_consumption(self, types: tuple[str, ...] = ("REALISED", "ID", "D-1"), start: date | None = None,
                             end: date | None = None) -> list[ConsumptionValue]:
        params = {"type": ",".join(types)}
        if start and end:
            params.update(start_date=rte_datetime(start), end_date=rte_datetime(end))
        return parse_consumption(self.get(CONSUMPTION_PATH, params))
