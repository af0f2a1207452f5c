"""The read API's services, shared by Relevé's own API (`/api/v1`) and the MyElectricalData compatibility
routes: who calls, which meter is theirs, what the cache holds for a range, the client's quotas, RTE's
public data. No Flask here: each piece takes the session, settings, Valkey client or Celery app it needs;
`ReadApi` bundles them for one request (`ReadApi(db(), settings(), celery())` in a view).

Authentication
- `secret_of(header, raw=False)`: the secret of an `Authorization` value (`Bearer <secret>`; with `raw`,
  the bare value too, as MED v1 clients send it); None when absent or not plausible (never looked up).
- `authenticate(session, secret)` → `Caller | None` (`authenticate_hash` when only the hash is known, as in
  a MED v2 token): one indexed lookup by the secret's SHA-256
  (`api_clients.secret_hash`, unique), joined to the account. None when unknown, revoked or the account
  is disabled. `authenticate_for(session, secret, pdl)` → (caller, its point or None): the same and
  `own_point` in one query. These ask PostgreSQL every time.
- `ReadApi.authenticate*` (what the routes call): the same answers, from Valkey while they hold
  (`models.access`: the client, its account and its points kept up to a minute, forgotten the moment a
  client is revoked, an account disabled or a point changes, so a revocation still holds at once), else
  from PostgreSQL (`load_access`), then kept. `ReadApi.own_points`/`own_point` answer from the same copy.

Ownership
- `own_points(session, user_id)`, `own_point(session, user_id, pdl)`: the caller's points; another
  account's PDL, a PDL unknown or not a PDL all give None (routes answer 404, never 403).

Ranges and reads from the cache (the web never calls upstream)
- `MAX_DAYS[series]`, `check_range(series, start, end)` → raises `RangeError(code, message)`:
  `INVALID_RANGE` (end ≤ start), `RANGE_TOO_LONG` (beyond MAX_DAYS; load curve 31, daily 1,095 days).
- `ReadApi.series(caller, point, series, start, end)` → `Served[SeriesRead]`: days of [start, end) (end
  exclusive) from the cache in one MGET; `SeriesRead.missing` lists the days inside what upstream serves
  and the consent allows (history start or activation … last published day) that are not cached (or not
  final); days outside that are never "missing" (`outside` counts them). On a miss an interactive fetch of
  the runs of missing days is enqueued (deduplicated, within the person's interactive budget) and the
  answer says `fetching` with a `retry_after`; `blocked` says why nothing can be fetched
  ("consent_needed", "budget", "series_not_available").
- `ReadApi.entry(caller, point, CONTRACT | ADDRESS)` → `Served[EntryRead]`: the same for the contract
  and the address (a miss enqueues `releve.enedis.fetch_customer`).
- `ReadApi.stored_answer(caller, point, series, start, end, variant)` / `keep_answer(point, read, variant,
  body)`: a complete range's answer (bytes, in the route's own format `variant`) kept with the readings'
  version it was made from, and served again with the quota charged in one Valkey call while no day of
  the series was written since (the fast path of a client polling the same year every few minutes).
- `series_name(point, role)` maps a role ("daily", "curve", "max", "production_daily",
  "production_curve") to the series a point carries, None when it carries none.

Quotas (per API client, atomic in Valkey: one Lua script a request)
- Kinds "cache" (a read answered from the cache, or while a fetch is already under way) and "upstream"
  (a read that sends a fetch to Enedis), each per minute and per Paris day (`API_*QUOTA*` settings).
  `ReadApi.series`/`entry` charge the right kind themselves; a refused charge enqueues nothing and
  returns `Served.quota.allowed == False` (`quota.refused` names the limit, `quota.retry_after` its end).
- `Quotas(valkey, settings).charge(client_pk, kind)`, `.peek(client_pk)` → `QuotaState` (`used`,
  `limits`, `headers()`, `day_resets_at`); `.reset(client_pks)` (admin).
- `reset_user_quotas(session, valkey, user_id)`: an administrator's reset of every client of a user.

Public data (PostgreSQL, no account)
- `tempo_days(session, start, end)` → {date: "BLUE"|"WHITE"|"RED"}; `ecowatt_days(session, start, end)`
  → [EcoWattSignal]; `national_consumption(session, start, end)` → [NationalConsumption]
  (`MAX_PUBLIC_DAYS` bounds each).
"""

from __future__ import annotations

import logging
import math
import re
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

import redis
from celery import Celery
from kombu.exceptions import KombuError
from redis import RedisError
from redis.commands.core import Script
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from models import calendar
from models.access import Access, AccessCache, KeptPoint
from models.api_clients import ApiClient, hash_secret
from models.cache import EncryptedCache
from models.ecowatt import EcoWattSignal
from models.keys import (
    ADDRESS, CONTRACT, answer_entry, customer_claim, fetch_claim, once_key, quota_key, quota_pattern, readings_version_key,
)
from models.national_consumption import NationalConsumption
from models.pdl import is_pdl
from models.series import SERIES, SERIES_OF
from models.settings import Settings
from models.tempo import TempoDay
from models.usage_points import UsagePoint
from models.users import User
from models.valkey import get_client
from pipeline import tasks
from pipeline.celery_app import enqueue
from pipeline.ratelimit import interactive_budget_resets_in, spend_interactive
from pipeline.series import history_start, windows_for_days
from pipeline.tasks.base import once
from pipeline.tasks.enedis import enqueue_window

log = logging.getLogger(__name__)

T = TypeVar("T")

# -- authentication ----------------------------------------------------------------------------------

MAX_SECRET_LENGTH = 128  # issued secrets are 43 characters; anything much longer is not one of ours
_SECRET = re.compile(rf"[\x21-\x7e]{{1,{MAX_SECRET_LENGTH}}}")  # visible ASCII, no blank
LAST_USED_EVERY = timedelta(minutes=5)  # `last_used_at` is written at most this often (no write per request)


@dataclass(frozen=True)
class Caller:
    """Who calls: an API client (its row's id, `client_pk`, keys its quotas) and its account."""

    client_pk: int
    client_id: str
    user_id: int


def secret_of(header: str | None, *, raw: bool = False) -> str | None:
    """The secret of an `Authorization` value: `Bearer <secret>` (any case of the scheme), or with `raw`
    the bare value; None when absent or not a plausible secret (printable ASCII, bounded)."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "bearer" and rest:
        value = rest.strip()
    elif raw and not rest:
        value = scheme
    else:
        return None
    if not _SECRET.fullmatch(value):
        return None
    return value


def authenticate(session: Session, secret: str | None, *, now: datetime | None = None) -> Caller | None:
    """The client whose secret this is, if it may read now (not revoked, account enabled); one lookup."""
    return authenticate_for(session, secret, None, now=now)[0]


def authenticate_for(session: Session, secret: str | None, pdl: str | None, *,
                     now: datetime | None = None) -> tuple[Caller | None, UsagePoint | None]:
    """`authenticate` and `own_point` in one query: (the caller, its point with this PDL or None)."""
    if not secret:
        return None, None
    return authenticate_hash_for(session, hash_secret(secret), pdl, now=now)


def authenticate_hash(session: Session, secret_hash: str, *, now: datetime | None = None) -> Caller | None:
    """`authenticate` for a secret known by its hash (a MED v2 token carries the hash, `webapp/med/tokens.py`)."""
    return authenticate_hash_for(session, secret_hash, None, now=now)[0]


def authenticate_hash_for(session: Session, secret_hash: str, pdl: str | None, *,
                          now: datetime | None = None) -> tuple[Caller | None, UsagePoint | None]:
    """`authenticate_for` of a secret known by its hash."""
    wanted = pdl if isinstance(pdl, str) and is_pdl(pdl) else None
    query = (select(ApiClient.id, ApiClient.client_id, ApiClient.user_id, ApiClient.revoked_at, ApiClient.last_used_at,
                    User.is_active)
             .join(User, User.id == ApiClient.user_id)
             .where(ApiClient.secret_hash == secret_hash))
    if wanted is not None:
        query = query.add_columns(UsagePoint).outerjoin(
            UsagePoint, and_(UsagePoint.user_id == ApiClient.user_id, UsagePoint.pdl == wanted))
    row = session.execute(query).one_or_none()
    if row is None or row.revoked_at is not None or not row.is_active:
        return None, None
    now = now or datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        session.execute(update(ApiClient).where(ApiClient.id == row.id).values(last_used_at=now))
    return Caller(row.id, row.client_id, row.user_id), (row.UsagePoint if wanted is not None else None)


def load_access(session: Session, secret_hash: str, *, now: datetime | None = None) -> Access | None:
    """What PostgreSQL says of a secret, as `models.access` keeps it: the client, its account and the
    account's points; None when unknown, revoked or the account is disabled."""
    caller = authenticate_hash(session, secret_hash, now=now)
    if caller is None:
        return None
    return Access.of(caller.client_pk, caller.client_id, caller.user_id, own_points(session, caller.user_id))


# -- ownership ---------------------------------------------------------------------------------------


def own_points(session: Session, user_id: int) -> list[UsagePoint]:
    """The account's points, by name then PDL."""
    return list(session.scalars(select(UsagePoint).where(UsagePoint.user_id == user_id)
                                .order_by(UsagePoint.name, UsagePoint.pdl)))


def own_point(session: Session, user_id: int, pdl: str | None) -> UsagePoint | None:
    """The account's point with this PDL; None for anything else (not a PDL, unknown, another account's)."""
    if not isinstance(pdl, str) or not is_pdl(pdl):
        return None
    return session.scalar(select(UsagePoint).where(UsagePoint.pdl == pdl, UsagePoint.user_id == user_id))


ROLES = {
    "daily": ("consumption", "daily"),
    "curve": ("consumption", "curve"),
    "max": ("consumption", "max"),
    "production_daily": ("production", "daily"),
    "production_curve": ("production", "curve"),
}


def series_name(point: UsagePoint, role: str) -> str | None:
    """The series behind `role` for this point; None when the point does not carry it (a production
    point has no consumption, a point without load curve no curve). A point of unknown kind is read as a
    consumption point, as the pipeline first tries it; a consumption point may carry production too
    (self-consumption): what is cached of it is served, never fetched (`ReadApi.series`)."""
    kind, part = ROLES[role]
    name = SERIES_OF[kind][part]
    if name is None or kind == "consumption" and point.kind == "production":
        return None
    if SERIES[name].load_curve and not point.load_curve_enabled:
        return None
    return name


# -- ranges ------------------------------------------------------------------------------------------

MAX_DAYS = {
    "daily_consumption": 1095,
    "daily_production": 1095,
    "max_power": 1095,
    "load_curve": 31,
    "production_load_curve": 31,
}
MAX_PUBLIC_DAYS = {"tempo": 1100, "ecowatt": 31, "national_consumption": 31}


class RangeError(ValueError):
    """A range the API refuses: `code` is stable (INVALID_RANGE, RANGE_TOO_LONG)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def check_range(start: date, end: date, max_days: int) -> None:
    """[start, end) must hold at least one day and at most `max_days`."""
    if end <= start:
        raise RangeError("INVALID_RANGE", "La fin de la période doit être après son début (fin exclue).")
    if (end - start).days > max_days:
        raise RangeError("RANGE_TOO_LONG", f"Au plus {max_days} jours par requête.")


# -- quotas ------------------------------------------------------------------------------------------

KINDS = ("cache", "upstream")
PERIODS = ("minute", "day")

# Counts of the four quota keys, then a charge of `kind` (1: cache, 2: upstream) against the limits
# ARGV[2..5] unless one is reached (then nothing is counted); `refused` is the index of the limit reached.
_CHARGE_BODY = """
local counts = {}
for i = 1, 4 do counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0') end
local refused = 0
if kind > 0 then
  local m, d = 2 * kind - 1, 2 * kind
  if counts[m] >= tonumber(ARGV[1 + m]) then refused = m
  elseif counts[d] >= tonumber(ARGV[1 + d]) then refused = d
  else
    counts[m] = redis.call('INCR', KEYS[m])
    if counts[m] == 1 then redis.call('EXPIRE', KEYS[m], tonumber(ARGV[6])) end
    counts[d] = redis.call('INCR', KEYS[d])
    if counts[d] == 1 then redis.call('EXPIRE', KEYS[d], tonumber(ARGV[7])) end
  end
end
"""
# KEYS: cache:minute, cache:day, upstream:minute, upstream:day
# ARGV: kind to charge (0: none, peek; 1: cache; 2: upstream), the four limits, minute ttl, day ttl
# Returns {refused index (0: charged, or peek), the four counts}.
_CHARGE = "local kind = tonumber(ARGV[1])" + _CHARGE_BODY + """
return {refused, counts[1], counts[2], counts[3], counts[4]}
"""
# A stored answer (`ReadApi.stored_answer`), served and charged as a cache read in one call when it was made
# from the readings as they are now. KEYS: the four quota keys, the point's readings versions, the answer.
# ARGV: 1 (cache), the four limits, minute ttl, day ttl, the series. Returns {-1} when there is no such
# answer (nothing charged), else {refused, the four counts, the sealed answer}.
_ANSWER = """
local version = redis.call('HGET', KEYS[5], ARGV[8]) or '0'
local stored = redis.call('HMGET', KEYS[6], 'v', 'b')
if stored[1] ~= version or not stored[2] then return {-1} end
local kind = 1""" + _CHARGE_BODY + """
return {refused, counts[1], counts[2], counts[3], counts[4], stored[2]}
"""
SLOTS = [(kind, period) for kind in KINDS for period in PERIODS]  # the order of KEYS above


@dataclass
class QuotaState:
    """An API client's counters after a charge (or a peek)."""

    allowed: bool
    used: dict[str, int]  # "cache:minute", "cache:day", "upstream:minute", "upstream:day"
    limits: dict[str, int]
    refused: str | None = None  # the limit reached, e.g. "upstream:day"
    retry_after: int = 0  # seconds until the refused limit's window ends
    day_resets_at: datetime | None = None  # next Paris midnight

    def remaining(self, slot: str) -> int:
        return max(0, self.limits[slot] - self.used[slot])

    def headers(self) -> dict[str, str]:
        """The counters as response headers (`X-Quota-Cache-Day: 12/5000`, …)."""
        out = {f"X-Quota-{kind.title()}-{period.title()}": f"{self.used[f'{kind}:{period}']}/{self.limits[f'{kind}:{period}']}"
               for kind, period in SLOTS}
        if self.day_resets_at is not None:
            out["X-Quota-Reset"] = self.day_resets_at.isoformat(timespec="seconds")
        return out


_scripts: weakref.WeakKeyDictionary[redis.Redis, dict[str, Script]] = weakref.WeakKeyDictionary()


def script(client: redis.Redis, source: str) -> Script:
    """`client.register_script(source)`, made once per client (not on every request)."""
    made = _scripts.setdefault(client, {})
    if source not in made:
        made[source] = client.register_script(source)
    return made[source]


class Quotas:
    """Per-client read quotas in Valkey, one Lua call a request (check and count together)."""

    def __init__(self, client: redis.Redis, settings: Settings):
        self.client = client
        self.limits = {"cache:minute": settings.api_quota_per_minute, "cache:day": settings.api_quota_per_day,
                       "upstream:minute": settings.api_upstream_quota_per_minute,
                       "upstream:day": settings.api_upstream_quota_per_day}
        self._script = script(client, _CHARGE)

    def window(self, client_pk: int, now: float | None = None) -> tuple[list[str], list[int], float]:
        """(the four keys of this minute and Paris day, the script's limit and ttl arguments, the moment)."""
        moment = time.time() if now is None else now
        minute, day = int(moment // 60), datetime.fromtimestamp(moment, calendar.PARIS).date()
        keys = [quota_key(client_pk, k, "m" if p == "minute" else "d", str(minute) if p == "minute" else day.isoformat())
                for k, p in SLOTS]
        return keys, [*(self.limits[f"{k}:{p}"] for k, p in SLOTS), 120, 2 * 86400], moment

    def state(self, refused: int, counts: Iterable[int], moment: float) -> QuotaState:
        """What a script answered, as a QuotaState."""
        local = datetime.fromtimestamp(moment, calendar.PARIS)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), calendar.PARIS)
        used = {f"{k}:{p}": int(c) for (k, p), c in zip(SLOTS, counts)}
        state = QuotaState(allowed=not refused, used=used, limits=dict(self.limits), day_resets_at=midnight)
        if refused:
            slot = SLOTS[int(refused) - 1]
            state.refused = f"{slot[0]}:{slot[1]}"
            state.retry_after = (60 - int(moment) % 60) if slot[1] == "minute" \
                else max(1, math.ceil(midnight.timestamp() - moment))
        return state

    def _run(self, client_pk: int, kind: str | None, now: float | None) -> QuotaState:
        keys, args, moment = self.window(client_pk, now)
        code = 0 if kind is None else KINDS.index(kind) + 1
        refused, *counts = self._script(keys=keys, args=[code, *args])
        return self.state(refused, counts, moment)

    def charge(self, client_pk: int, kind: str, *, now: float | None = None) -> QuotaState:
        """Count one read of `kind` unless a limit of that kind is reached (then count nothing)."""
        if kind not in KINDS:
            raise ValueError(f"unknown quota kind {kind!r}")
        return self._run(client_pk, kind, now)

    def peek(self, client_pk: int, *, now: float | None = None) -> QuotaState:
        """The counters, counting nothing."""
        return self._run(client_pk, None, now)

    def reset(self, client_pks: Iterable[int]) -> int:
        """Forget every counter of these clients; how many keys went."""
        keys = [k for pk in client_pks for k in self.client.scan_iter(match=quota_pattern(pk), count=1000)]
        return self.client.unlink(*keys) if keys else 0


def reset_user_quotas(session: Session, client: redis.Redis, settings: Settings, user_id: int) -> int:
    """An administrator's reset: every API client of the account (revoked ones too) starts from zero."""
    pks = list(session.scalars(select(ApiClient.id).where(ApiClient.user_id == user_id)))
    return Quotas(client, settings).reset(pks)


# -- reads -------------------------------------------------------------------------------------------


@dataclass
class SeriesRead:
    """Days of [start, end) of one series of a point, as the cache holds them."""

    series: str
    start: date
    end: date  # exclusive
    first_day: date  # the first day upstream may serve (history kept, activation)
    last_day: date  # the newest day Enedis has published
    days: dict[date, Any] = field(default_factory=dict)
    missing: list[date] = field(default_factory=list)  # inside [first_day, last_day], not cached
    # Cached but not final yet (the last days): served as they are; the refresh passes fetch them again for
    # meters in use (#16), so a client polling every hour costs no upstream call for them.
    partial: list[date] = field(default_factory=list)
    outside: int = 0  # asked days outside [first_day, last_day]: never fetched, answered as absent
    fetching: bool = False  # a fetch of the missing days was sent, or one is under way
    retry_after: int = 0  # when to ask again (seconds), when something is missing
    blocked: str | None = None  # why the missing days will not come now: consent_needed, budget, series_not_available
    version: int | None = None  # the readings' version (`EncryptedCache.readings_version`) read before the days

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class EntryRead:
    """The point's contract or address, as the cache holds it (None: not cached)."""

    name: str
    value: Any = None
    fetching: bool = False
    retry_after: int = 0
    blocked: str | None = None


@dataclass
class Served(Generic[T]):
    """A read and the quota it was charged to; when `quota.allowed` is False, nothing was read for the
    caller (`read` is what the cache holds, not to be sent) and nothing was enqueued."""

    read: T
    quota: QuotaState


ANSWER_TTL = 300  # an answer kept outlives the entries it was made from by this much at most


def retry_after_for(windows: int) -> int:
    """A fair time to ask again once `windows` fetches are queued (each takes about a second upstream)."""
    return min(60, 5 + 2 * windows)


class ReadApi:
    """The read API's services for one request (or one script): session, settings, Valkey, Celery.

    `session` may be a function that opens it: then it is opened only if PostgreSQL is needed (a request
    answered from Valkey alone, the common case, neither checks out a connection nor commits)."""

    def __init__(self, session: Session | Callable[[], Session], settings: Settings, celery: Celery, *,
                 cache: EncryptedCache | None = None, valkey: redis.Redis | None = None):
        self._session, self.settings, self.celery = session, settings, celery
        self.valkey = valkey or get_client(settings.valkey_url)
        self.cache = cache or EncryptedCache.from_settings(self.valkey, settings)
        self.quotas = Quotas(self.valkey, settings)
        self._answer = script(self.valkey, _ANSWER)
        self.access = AccessCache(self.valkey, self.cache)
        self._access: Access | None = None  # what the last authentication found (`own_points`)

    @property
    def session(self) -> Session:
        if not isinstance(self._session, Session):
            self._session = self._session()
        return self._session

    # -- authentication and ownership: Valkey's copy while it holds, else PostgreSQL (`models.access`) -----

    def authenticate_hash_for(self, secret_hash: str, pdl: str | None) -> tuple[Caller | None, KeptPoint | None]:
        """(the caller, its point with this PDL or None); (None, None) when the secret may not read. The point
        is Valkey's read-only copy of the row (`KeptPoint`), read wherever a `UsagePoint` is."""
        access, generation = self.access.lookup(secret_hash)
        if access is None:
            access = load_access(self.session, secret_hash)
            if access is None:
                return None, None
            self.access.keep(secret_hash, generation, access)
        self._access = access
        return Caller(access.client_pk, access.client_id, access.user_id), access.point(pdl)

    def authenticate_for(self, secret: str | None, pdl: str | None) -> tuple[Caller | None, KeptPoint | None]:
        if not secret:
            return None, None
        return self.authenticate_hash_for(hash_secret(secret), pdl)

    def authenticate(self, secret: str | None) -> Caller | None:
        return self.authenticate_for(secret, None)[0]

    def authenticate_hash(self, secret_hash: str) -> Caller | None:
        return self.authenticate_hash_for(secret_hash, None)[0]

    def _access_of(self, caller: Caller) -> Access | None:
        access = self._access
        return access if access is not None and access.client_pk == caller.client_pk else None

    def own_points(self, caller: Caller) -> list[KeptPoint] | list[UsagePoint]:
        access = self._access_of(caller)
        return access.all_points() if access is not None else own_points(self.session, caller.user_id)

    def own_point(self, caller: Caller, pdl: str | None) -> KeptPoint | UsagePoint | None:
        access = self._access_of(caller)
        return access.point(pdl) if access is not None else own_point(self.session, caller.user_id, pdl)

    # -- series -----------------------------------------------------------------------------------

    def read_series(self, point: UsagePoint, series: str, start: date, end: date, *,
                    now: datetime | None = None) -> SeriesRead:
        """What the cache holds of [start, end) (one round trip), charging and enqueuing nothing."""
        now = now or calendar.now_paris()
        last = calendar.last_published_day(now)
        first = history_start(SERIES[series], now.date(), point.activation_date)
        inside_start, inside_end = max(start, first), min(end, last + timedelta(days=1))
        # The version first: a write landing during the read makes a newer version, never a stale answer kept.
        read = SeriesRead(series, start, end, first, last, version=self.cache.readings_version(point.id, series))
        total = (end - start).days
        if inside_end > inside_start:
            # Only the days upstream may serve are asked of Valkey (a range in the future costs nothing).
            cached = self.cache.read_range(point.user_id, point.id, series, inside_start, inside_end)
            partial = set(cached.partial)
            read.days, read.partial = cached.days, cached.partial
            read.missing = [day for day in cached.missing if day not in partial] if partial else cached.missing
            read.outside = total - (inside_end - inside_start).days
        else:
            read.outside = total
        return read

    def _claimed(self, claims: list[str]) -> list[bool]:
        return [bool(v) for v in self.valkey.mget([once_key(c) for c in claims])] if claims else []

    def series(self, caller: Caller, point: UsagePoint, series: str, start: date, end: date, *,
               now: datetime | None = None) -> Served[SeriesRead]:
        """Days of [start, end) of `series` of the caller's `point`, the quota charged; a miss enqueues.

        The range must have been checked (`check_range`). The caller's point: see `own_point`."""
        read = self.read_series(point, series, start, end, now=now)
        windows: list[tuple[date, date]] = []
        if read.missing and point.status != "active":
            read.blocked = "consent_needed"
        elif read.missing and SERIES[series].kind != ("consumption" if point.kind == "unknown" else point.kind):
            read.blocked = "series_not_available"
        elif read.missing:
            windows = windows_for_days(SERIES[series], read.missing)
        claimed = self._claimed([fetch_claim(point.id, series, s, e) for s, e in windows])
        # A read costs an upstream call only when it sends a fetch; polling a fetch under way is a cache read.
        sends = any(not c for c in claimed)
        quota = self.quotas.charge(caller.client_pk, "upstream" if sends else "cache")
        if not quota.allowed:
            return Served(read, quota)
        if windows:
            read.fetching = True
            read.retry_after = retry_after_for(len(windows))
            if sends and self._send(point, series, windows):
                read.blocked = "budget"
                read.retry_after = max(1, interactive_budget_resets_in(self.valkey, point.user_id))
        return Served(read, quota)

    def _send(self, point: UsagePoint, series: str, windows: list[tuple[date, date]]) -> bool:
        """Enqueue the windows within the person's interactive budget (sent after the request's commit);
        True when the budget stopped some."""
        try:
            return request_windows(self.celery, self.valkey, point, series, windows, session=self.session)[1]
        except (RedisError, KombuError) as exc:  # the answer still says what is cached and what is missing
            log.warning("could not enqueue a fetch for point %s: %s", point.id, exc)
            return False

    # -- answers already made -----------------------------------------------------------------------
    # A complete range is answered the same way until one of its days is written again: the answer is kept
    # (sealed like readings, under the point's entries, so forgetting the point forgets it) with the readings'
    # version it was made from, and served with its quota charged in one Valkey call, without reading 365
    # days again. `variant` names the route's format ("v1", a compatibility format…).

    def _answer_key(self, point: UsagePoint, series: str, start: date, end: date, variant: str,
                    now: datetime | None = None) -> str:
        last = calendar.last_published_day(now or calendar.now_paris())  # what is published changes the answer
        return self.cache.key(point.user_id, answer_entry(variant, series, start, end, last), point.id)

    def stored_answer(self, caller: Caller, point: UsagePoint, series: str, start: date, end: date, variant: str, *,
                      now: datetime | None = None) -> Served[bytes] | None:
        """The answer kept for this range, if made from the readings as they are now, with the quota charged
        as a cache read (when refused, `read` is not to be sent); None otherwise: nothing charged, except for an
        answer that no longer opens (sealed under a retired key, or tampered with), charged once more when made
        afresh."""
        key = self._answer_key(point, series, start, end, variant, now)
        keys, args, moment = self.quotas.window(caller.client_pk)
        found = self._answer(keys=[*keys, readings_version_key(point.id), key], args=[1, *args, series])
        if found[0] == -1:
            return None
        body = self.cache.open_bytes(point.user_id, key, found[5])
        if body is None:  # sealed under a retired key, or tampered with
            return None
        return Served(body, self.quotas.state(found[0], found[1:5], moment))

    def keep_answer(self, point: UsagePoint, read: SeriesRead, variant: str, body: bytes, *,
                    now: datetime | None = None) -> None:
        """Keep the answer to a complete range (`stored_answer`), tied to the readings' version it was made from."""
        if not read.complete or read.version is None:
            return
        key = self._answer_key(point, read.series, read.start, read.end, variant, now)
        pipe = self.valkey.pipeline(transaction=False)
        pipe.hset(key, mapping={"v": read.version, "b": self.cache.seal_bytes(point.user_id, key, body)})
        pipe.expire(key, ANSWER_TTL)
        pipe.execute()

    # -- contract and address ---------------------------------------------------------------------

    def entry(self, caller: Caller, point: UsagePoint, name: str) -> Served[EntryRead]:
        """The point's contract or address (`models.keys.CONTRACT`, `ADDRESS`), the quota charged;
        a miss enqueues a fetch of both (once per 10 minutes)."""
        if name not in (CONTRACT, ADDRESS):
            raise ValueError(f"not a customer entry: {name!r}")
        read = EntryRead(name, self.cache.get(point.user_id, name, point=point.id))
        sends = False
        if read.value is None:
            if point.kind == "production":
                read.blocked = "series_not_available"  # Enedis keeps customer data for consumption points only
            elif point.status != "active":
                read.blocked = "consent_needed"
            else:
                read.fetching, read.retry_after = True, retry_after_for(1)
                sends = not self._claimed([customer_claim(point.id)])[0]
        quota = self.quotas.charge(caller.client_pk, "upstream" if sends else "cache")
        if quota.allowed and sends and once(self.settings, customer_claim(point.id), 600):
            try:
                enqueue(self.celery, tasks.FETCH_CUSTOMER, {"point_id": point.id}, session=self.session)
            except (RedisError, KombuError) as exc:
                log.warning("could not enqueue a customer fetch for point %s: %s", point.id, exc)
        return Served(read, quota)

    # -- public data --------------------------------------------------------------------------------

    def tempo_days(self, start: date, end: date) -> dict[date, str]:
        return tempo_days(self.session, start, end)

    def ecowatt_days(self, start: date, end: date) -> list[EcoWattSignal]:
        return ecowatt_days(self.session, start, end)

    def national_consumption(self, start: datetime, end: datetime) -> list[NationalConsumption]:
        return national_consumption(self.session, start, end)


def request_windows(celery: Celery, client: redis.Redis, point: UsagePoint, series: str,
                    windows: list[tuple[date, date]], *, session: Session | None = None) -> tuple[bool, bool]:
    """Enqueue interactive fetches of `windows` (deduplicated), each taken from the person's interactive
    budget (`pipeline.ratelimit.spend_interactive`): (one was sent, the budget stopped some).
    Raises RedisError/KombuError."""
    sent = False
    for start, end in windows:
        if not spend_interactive(client, point.user_id):
            log.info("user %s: interactive budget spent, %s of point %s waits", point.user_id, series, point.id)
            return sent, True
        sent |= enqueue_window(celery, point.id, series, start, end, session=session)
    return sent, False


# -- public data -------------------------------------------------------------------------------------


def tempo_days(session: Session, start: date, end: date) -> dict[date, str]:
    """Tempo colours of [start, end) as RTE (or an administrator's correction) says: BLUE, WHITE, RED."""
    rows = session.execute(select(TempoDay.day, TempoDay.colour).where(TempoDay.day >= start, TempoDay.day < end)
                           .order_by(TempoDay.day))
    return {day: colour for day, colour in rows}


def ecowatt_days(session: Session, start: date, end: date) -> list[EcoWattSignal]:
    """EcoWatt signals of [start, end), one a day with its hourly values."""
    return list(session.scalars(select(EcoWattSignal).where(EcoWattSignal.day >= start, EcoWattSignal.day < end)
                                .order_by(EcoWattSignal.day)))


def national_consumption(session: Session, start: datetime, end: datetime) -> list[NationalConsumption]:
    """National consumption intervals starting in [start, end), every series RTE gave (REALISED, ID, D-1, D-2)."""
    return list(session.scalars(select(NationalConsumption)
                                .where(NationalConsumption.start_at >= start, NationalConsumption.start_at < end)
                                .order_by(NationalConsumption.start_at, NationalConsumption.series)))
