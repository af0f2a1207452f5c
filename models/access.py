"""Who an API secret is, kept in Valkey between requests, and forgotten the moment that changes.

An API request must know who calls (the client, its account) and what it may read (the account's
points). PostgreSQL knows; asking it on every request cost a connection checkout, a query and a commit,
most of a cached read's time (`python -m bench.api`). So the answer is kept in Valkey, keyed by the
secret's SHA-256 (never the secret), for `ACCESS_TTL` seconds at most:

    releve:access:{secret hash}       the client, its account and the account's points, sealed
    releve:access:gen:{secret hash}   the client's access generation (a counter, kept a day)

The entry is sealed like a cache entry, under the application's key (user 0) and bound to its name: an
entry written into Valkey by anyone else fails authentication and is a miss, never a sign-in; it carries
its own expiry, so one saved and put back later is a miss too. It carries the generation its client had
before PostgreSQL was read, and is used only while the generation is still that one
(`AccessCache.lookup` reads both in one round trip).

Whatever changes who may read what bumps the generation of every client concerned: a client revoked
(or its secret or account changed), an account disabled, enabled or deleted, a point added, removed,
moved to another account, or changed in what a read depends on (`WATCHED`). The ORM hooks below see
these in every session of a process that called `configure()` (the web, the workers, the CLI): once
before the flush writes them (if Valkey cannot hear of the change, the change is not made) and again
after the commit, the account's clients listed afresh (a request that read PostgreSQL just before the
commit cannot keep what it read, even with a client added meanwhile). So a revoked secret or a disabled
account is refused by the very next request, as when nothing was kept; an offer deleted counts for the
accounts whose points named it (PostgreSQL empties their `offer_id` itself). A bulk `DELETE`/`UPDATE`
statement does not go through these hooks: its author calls `changed()`. Should the second bump fail twice (Valkey or PostgreSQL gone at that very
moment), it is logged: a request that read in that instant keeps its copy a minute at most.

A counter lives a day after its last bump (`GENERATION_TTL`); Valkey runs with `noeviction` (the broker
shares it), so nothing takes it sooner. When it goes, its value starts again from 0, which an entry made
under an older value cannot carry: such entries lived a minute (`ACCESS_TTL`), a day earlier. An entry
made the minute before, under the value that went, carries a value ≥ 1 and is a miss: never stale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import redis
from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models.api_clients import ApiClient
from models.cache import EncryptedCache
from models.keys import access_generation_key, access_key
from models.offers import Offer
from models.usage_points import UsagePoint
from models.users import User
from models.valkey import get_client

log = logging.getLogger(__name__)

ACCESS_TTL = 60  # seconds an entry is used at most; `last_used_at` is written when it is made again
GENERATION_TTL = 86400  # a generation outlives by far every entry made under an older one
APP_USER = 0  # entries are sealed under the application's key, not a person's

# The attributes a request's answer depends on, per model; a change to one bumps the generations.
# A point's `last_refreshed_at` and `updated_at` are kept too (every column is) but change daily
# and nothing an API answer holds depends on them: a copy up to ACCESS_TTL old is fine.
WATCHED: dict[type, tuple[str, ...]] = {
    User: ("is_active",),
    ApiClient: ("revoked_at", "secret_hash", "user_id"),
    UsagePoint: ("pdl", "user_id", "name", "kind", "status", "status_reason", "load_curve_enabled",
                 "activation_date", "offer_id"),
}


@dataclass(frozen=True, slots=True)
class KeptPoint:
    """A point as `Access` keeps it: every column of its `usage_points` row, read-only. Requests read it
    where they read a `UsagePoint` (the API never writes a point); tests/models/test_access.py checks
    the fields are the table's columns."""

    id: int
    pdl: str
    user_id: int
    name: str
    kind: str
    load_curve_enabled: bool
    status: str
    status_reason: str
    activation_date: date | None
    last_refreshed_at: datetime | None
    offer_id: int | None
    created_at: datetime | None


_POINT_COLUMNS = tuple(KeptPoint.__dataclass_fields__)
_DATES = {"activation_date": date.fromisoformat, "last_refreshed_at": datetime.fromisoformat,
          "created_at": datetime.fromisoformat}


@dataclass(frozen=True)
class Access:
    """What a request needs of its API client: the client (`client_pk` keys its quotas), its account,
    and the account's points."""

    client_pk: int
    client_id: str
    user_id: int
    points: tuple[KeptPoint, ...]

    @classmethod
    def of(cls, client_pk: int, client_id: str, user_id: int, points: Iterable[UsagePoint]) -> Access:
        return cls(client_pk, client_id, user_id,
                   tuple(KeptPoint(**{key: getattr(p, key) for key in _POINT_COLUMNS}) for p in points))

    def point(self, pdl: str | None) -> KeptPoint | None:
        """The account's point with this PDL, None for any other string."""
        return next((p for p in self.points if p.pdl == pdl), None)

    def all_points(self) -> list[KeptPoint]:
        """The account's points, by name then PDL (as `pipeline.api.own_points`)."""
        return sorted(self.points, key=lambda p: (p.name, p.pdl))

    def to_json(self) -> dict[str, Any]:
        return {"c": self.client_pk, "i": self.client_id, "u": self.user_id,
                "p": [{key: _encode(getattr(p, key)) for key in _POINT_COLUMNS} for p in self.points]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Access:
        return cls(int(data["c"]), str(data["i"]), int(data["u"]),
                   tuple(KeptPoint(**{key: _decode(key, row[key]) for key in _POINT_COLUMNS}) for row in data["p"]))


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _decode(key: str, value: Any) -> Any:
    return _DATES[key](value) if value is not None and key in _DATES else value


class AccessCache:
    """The entries and generations of `models.access` in one Valkey database."""

    def __init__(self, client: redis.Redis, cache: EncryptedCache):
        self.client, self.cache = client, cache

    def lookup(self, secret_hash: str) -> tuple[Access | None, int]:
        """(the access kept for this secret if still valid, else None; the client's generation now).
        One round trip; pass the generation to `keep` after reading PostgreSQL."""
        key = access_key(secret_hash)
        blob, generation = self.client.mget([key, access_generation_key(secret_hash)])
        try:
            generation = int(generation or 0)
        except ValueError:  # not ours: nothing kept is used, nothing kept now will be
            return None, -1
        data = self.cache.open(APP_USER, key, blob) if blob is not None else None
        # The expiry sealed inside, not only Valkey's TTL: an entry put back later is a miss.
        if not isinstance(data, dict) or data.get("g") != generation or not time.time() <= data.get("e", 0):
            return None, generation
        try:
            return Access.from_json(data["a"]), generation
        except (KeyError, TypeError, ValueError):
            log.warning("access entry of an API client does not decode: treated as a miss")
            return None, generation

    def keep(self, secret_hash: str, generation: int, access: Access) -> None:
        """Keep what PostgreSQL said, under the generation read before it was asked."""
        key = access_key(secret_hash)
        entry = {"g": generation, "e": int(time.time()) + ACCESS_TTL, "a": access.to_json()}
        self.client.set(key, self.cache.seal(APP_USER, key, entry), ex=ACCESS_TTL)


def bump(client: redis.Redis, secret_hashes: Iterable[str]) -> None:
    """Make every entry kept for these secrets unusable (one round trip)."""
    hashes = sorted(set(secret_hashes))
    if not hashes:
        return
    pipe = client.pipeline(transaction=False)
    for secret_hash in hashes:
        pipe.incr(access_generation_key(secret_hash))
        pipe.expire(access_generation_key(secret_hash), GENERATION_TTL)
    pipe.execute()


# -- watching the changes ----------------------------------------------------------------------------

_valkey_url: str | None = None
_PENDING = "releve.access.changed"  # session.info: (account ids, secret hashes) to bump again after the commit


def configure(valkey_url: str) -> None:
    """Watch this process's sessions from now on and bump generations in `valkey_url`'s database
    (called by `webapp.create_app`, `pipeline.celery_app.create_celery` and the CLI)."""
    global _valkey_url
    _valkey_url = valkey_url


def _secrets_of(connection, user_ids: Iterable[int]) -> set[str]:
    return set(connection.scalars(select(ApiClient.secret_hash).where(ApiClient.user_id.in_(sorted(user_ids)))))


def changed(session: Session, user_ids: Iterable[int] = (), secret_hashes: Iterable[str] = ()) -> None:
    """The access of these accounts' clients (and of these secrets) changes in this transaction: bump their
    generations now, and again once it commits, the accounts' clients listed afresh then (one created
    meanwhile by another transaction is bumped too). Raises Valkey's error (the change must then not be
    made). Deleting an account: lock its row first (`pipeline.accounts.delete_account`), since its
    clients are gone by the time it commits."""
    if _valkey_url is None:
        return
    hashes = set(secret_hashes)
    users = {u for u in user_ids if u is not None}
    if users:
        with session.no_autoflush:
            hashes |= _secrets_of(session, users)
    if hashes:
        bump(get_client(_valkey_url), hashes)
    pending_users, pending_hashes = session.info.setdefault(_PENDING, (set(), set()))
    pending_users |= users
    pending_hashes |= hashes


def _changed_attributes(obj: Any, names: tuple[str, ...]) -> list[str]:
    state = inspect(obj)
    return [name for name in names if state.attrs[name].history.has_changes()]


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    if _valkey_url is None:
        return
    users: set[int] = set()
    hashes: set[str] = set()

    def concerned(obj: Any) -> None:
        state = inspect(obj)
        if isinstance(obj, UsagePoint):  # moved: its former holder too
            users.update((obj.user_id, *(state.attrs["user_id"].history.deleted or ())))
        elif isinstance(obj, User):
            users.add(obj.id)
        elif isinstance(obj, ApiClient):  # its secret changed: the former one too
            hashes.update((obj.secret_hash, *(state.attrs["secret_hash"].history.deleted or ())))

    for obj in session.new:
        if isinstance(obj, UsagePoint):  # a new client or account reads nothing kept yet
            concerned(obj)
    for obj in session.deleted:
        concerned(obj)
    offers = [obj.id for obj in session.deleted if isinstance(obj, Offer)]
    if offers:  # PostgreSQL empties its points' offer_id (ON DELETE SET NULL), out of the ORM's sight
        with session.no_autoflush:
            users.update(session.scalars(select(UsagePoint.user_id).where(UsagePoint.offer_id.in_(offers))))
    for obj in session.dirty:
        names = WATCHED.get(type(obj))
        if names and _changed_attributes(obj, names):
            concerned(obj)
    if users or hashes:
        changed(session, users, hashes)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or _valkey_url is None:
        return
    users, hashes = pending
    for attempt in (1, 2):
        try:
            if users:  # listed afresh: a client created by another transaction since the flush counts too
                bind = session.get_bind()
                if isinstance(bind, Engine):
                    with bind.connect() as connection:
                        hashes = hashes | _secrets_of(connection, users)
                else:  # a Connection (the tests' sessions join one)
                    hashes = hashes | _secrets_of(bind, users)
            bump(get_client(_valkey_url), hashes)
            return
        except (redis.RedisError, SQLAlchemyError) as exc:
            # Bumped before the flush already; what this one closes is a request that read PostgreSQL
            # between that bump and the commit: its copy lives a minute at most (`ACCESS_TTL`).
            if attempt == 2:
                log.error("access of API clients not bumped after commit (accounts %s): %s", sorted(users), exc)
            else:
                time.sleep(0.1)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
