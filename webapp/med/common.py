"""What the v1 and v2 compatibility routes share: the request's read services, dates, misses, upstream pauses."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from datetime import UTC, date, datetime

from flask import Response, jsonify
from sqlalchemy import any_, select

from models.calendar import today_paris
from models.api_clients import ApiClient
from models.consents import EnedisConsent
from models.keys import ratelimit_key
from models.usage_points import UsagePoint
from pipeline.api import Caller, ReadApi, SeriesRead
from webapp.api.v1 import api
from webapp.db import db


class DetailError(Exception):
    """An answer `{"detail": …}` with a status (and headers): every v1 error, and v2's outside its envelope."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None):
        super().__init__(str(detail))
        self.status, self.detail, self.headers = status, detail, headers or {}


def detail_answer(exc: DetailError) -> Response:
    response = jsonify(detail=exc.detail)
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response

# What MyElectricalData's URLs name, and the role (`pipeline.api.ROLES`) and body shape behind it.
V1_SERIES = {
    "daily_consumption": ("daily", "daily"),
    "daily_production": ("production_daily", "daily"),
    "consumption_load_curve": ("curve", "curve"),
    "production_load_curve": ("production_curve", "curve"),
    "daily_consumption_max_power": ("max", "max_power"),
}
# The longest range one MED request may ask (compat-api.md, checklist 5): clients split longer ones.
MAX_REQUEST_DAYS = {"daily": 1095, "max_power": 1095, "curve": 7}
# Public data: clients ask for up to three years at once; longer asks are cut to the newest days, not refused.
MAX_TEMPO_DAYS = 1100
MAX_ECOWATT_DAYS = 31


def read_api() -> ReadApi:
    """The read services for this request (`pipeline.api`), as /api/v1 builds them: the request's session,
    the process's cache and Valkey client."""
    return api()


class DateError(ValueError):
    """A date the client sent cannot be read (a French message for the answer)."""


def parse_day(text: str | None, name: str) -> date:
    """A `YYYY-MM-DD` day; anything else (NUL bytes, huge years, 1 MB strings) is a DateError."""
    if not text or len(text) != 10:
        raise DateError(f"La date {name} doit être au format AAAA-MM-JJ.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DateError(f"La date {name} doit être au format AAAA-MM-JJ.") from None


def clamp_end(end: date) -> date:
    """A future `end` (exclusive) becomes today, Paris (clients send tomorrow or the day after)."""
    return min(end, today_paris())


def absent_days(read: SeriesRead) -> list[date]:
    """The days these clients would miss: not in the cache at all. A day cached but not final yet (D-1, D-2)
    is served (Enedis serves it the same way); the refresh passes fetch it again (`SeriesRead.partial`)."""
    return list(read.missing)


def consent_expiry(point: UsagePoint) -> datetime | None:
    """When the newest active consent that covers this point ends (None: none known)."""
    return db().scalar(select(EnedisConsent.expires_at)
                       .where(EnedisConsent.user_id == point.user_id, EnedisConsent.status == "active",
                              point.pdl == any_(EnedisConsent.prms))
                       .order_by(EnedisConsent.expires_at.desc().nulls_last()).limit(1))


def last_call(who: Caller) -> datetime | None:
    """When this API client was last used (written at most every few minutes, `pipeline.api.authenticate`)."""
    return db().scalar(select(ApiClient.last_used_at).where(ApiClient.id == who.client_pk))


@dataclass(frozen=True)
class UpstreamPause:
    """Enedis asked every worker to wait (a 429 seen by the pipeline, `pipeline.ratelimit`): until when."""

    until: datetime

    @property
    def seconds(self) -> int:
        return max(1, int((self.until - datetime.now(UTC)).total_seconds()) + 1)

    def enedis_body(self) -> str:
        """The throttle as Enedis words it, which MED relays as a JSON string in `detail` (enedis-client reads
        `nextAccessTime` from it)."""
        stamp = self.until.astimezone(UTC).strftime("%Y-%b-%d %H:%M:%S+0000 UTC")
        return json.dumps({"code": 900807, "message": "Message throttled out",
                           "description": f"You have exceeded your quota .You can access API after {stamp}",
                           "nextAccessTime": stamp})


# A pause shorter than this is the limiter spacing calls (a second or two): the fetch still comes soon.
PAUSE_WORTH_A_429 = 30.0


def upstream_pause() -> UpstreamPause | None:
    """Enedis's current pause, when it is long enough that a client should hear about it."""
    raw = read_api().valkey.get(ratelimit_key("enedis", "blocked"))
    try:
        until_ms = int(raw) if raw is not None else 0
    except ValueError:
        return None
    if until_ms / 1000 - time.time() < PAUSE_WORTH_A_429:
        return None
    return UpstreamPause(datetime.fromtimestamp(until_ms / 1000, UTC))

