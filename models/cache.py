"""The encrypted, expiring cache of personal readings in Valkey.

Every value is sealed with AES-GCM under a key derived (HKDF-SHA256) from a master key
and the owner's user id. The associated data binds the Valkey key and the user id, so an
entry copied under another key or another user's name fails to authenticate; it is then
treated as a miss, and logged.

Layout of a stored value: format byte (1), key-version byte, 12-byte nonce, ciphertext
with its 16-byte tag. The key version says which master key sealed the entry. Master keys
rotate (README, "Rotating the master key"): `RELEVE_MASTER_KEY` is the current key, which
seals every write; `RELEVE_MASTER_KEY_PREVIOUS` lists older ones, which only read what they
sealed until it expires or is fetched again. An entry whose version is no longer configured
is a miss, which the pipeline fetches again (`EncryptedCache.from_settings(client, settings)`,
or `EncryptedCache(client, {2: new_key, 1: old_key}, current=2)`).

Key names depend on no key at all (models/keys.py): a point's entries are named by the usage
point's id, never by its PDL, so the keyspace reveals no meter number, and a name stays the
same whichever master key is current. (Names used to be an HMAC of the PDL under the oldest
configured master key: retiring that key would have turned every entry into a miss.)

    releve:c:{user_id}:{"p" + point id, or "-"}:{name}

A day of a series is one key (`{series}:{YYYY-MM-DD}`): a range read is one MGET, and a
day fetched again replaces itself (a partial day is never there twice).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models.keys import cache_key, day_entry, history_start_entry, readings_version_key
from models.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 1
NONCE_BYTES = 12


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


@dataclass
class RangeResult:
    """A range read: the cached days, the days still to fetch, and where history starts."""

    days: dict[date, Any] = field(default_factory=dict)
    missing: list[date] = field(default_factory=list)   # absent, expired, unreadable, or not final yet
    partial: list[date] = field(default_factory=list)   # present but not final (D-1, D-2): shown, fetched again
    history_start: date | None = None                   # upstream serves nothing before this day


class EncryptedCache:
    """Personal readings sealed per user, with a TTL, read a range at a time."""

    def __init__(self, client: redis.Redis, master_key: bytes | Mapping[int, bytes], *, current: int | None = None,
                 ttl_seconds: int = 86400):
        """`master_key`: one key (version 1) or keys by version; `current` seals writes (default: the highest)."""
        keys = dict(master_key) if isinstance(master_key, Mapping) else {1: master_key}
        if not keys or any(len(k) < 32 for k in keys.values()):
            raise ValueError("master keys must be at least 32 bytes")
        if any(not 0 < v < 256 for v in keys):
            raise ValueError("key versions are 1..255")
        if current is not None and current not in keys:
            raise ValueError(f"the current key version {current} is not among the keys")
        self.client = client
        self.masters = keys
        # Explicit rather than max(): versions may wrap around after 255 rotations.
        self.version = max(keys) if current is None else current
        self.ttl = int(ttl_seconds)
        self._user_key = lru_cache(maxsize=4096)(self._derive_user_key)

    @classmethod
    def from_settings(cls, client: redis.Redis, settings: Settings) -> EncryptedCache:
        """The cache as configured: the current master key seals, the previous ones still read."""
        return cls(client, settings.master_keys, current=settings.master_key_version,
                   ttl_seconds=settings.cache_ttl_seconds)

    # -- keys -------------------------------------------------------------------------

    def _derive_user_key(self, version: int, user_id: int) -> AESGCM:
        return AESGCM(_hkdf(self.masters[version], f"releve-cache:v{version}:user:{user_id}".encode()))

    @staticmethod
    def key(user_id: int, name: str, point: int | None = None) -> str:
        """The Valkey key of entry `name` of a user, of its point `point` (a usage point id) or of none."""
        return cache_key(user_id, point, name)

    # -- sealing ----------------------------------------------------------------------

    def seal(self, user_id: int, key: str, value: Any) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(value, default=_json_default, separators=(",", ":")).encode()
        aad = f"{key}|{user_id}".encode()
        return bytes((FORMAT, self.version)) + nonce + self._user_key(self.version, user_id).encrypt(nonce, plaintext, aad)

    def open(self, user_id: int, key: str, blob: bytes | None) -> Any | None:
        """The value, or None for a miss (absent, unknown format or key, or failing authentication)."""
        if blob is None:
            return None
        if len(blob) < 2 + NONCE_BYTES + 16 or blob[0] != FORMAT:
            log.warning("cache: unreadable entry %s (unknown format), treated as a miss", key)
            return None
        if blob[1] not in self.masters:
            # Expected after a key is retired: what it sealed is fetched again.
            log.info("cache: entry %s is sealed under key version %d, not configured (retired?): a miss",
                     key, blob[1])
            return None
        nonce, sealed = blob[2:2 + NONCE_BYTES], blob[2 + NONCE_BYTES:]
        try:
            plaintext = self._user_key(blob[1], user_id).decrypt(nonce, sealed, f"{key}|{user_id}".encode())
        except InvalidTag:
            log.warning("cache: entry %s failed authentication for user %s (moved or tampered), treated as a miss",
                        key, user_id)
            return None
        return json.loads(plaintext)

    # -- single entries ---------------------------------------------------------------

    def put(self, user_id: int, name: str, value: Any, *, point: int | None = None, ttl: int | None = None) -> None:
        key = self.key(user_id, name, point)
        self.client.set(key, self.seal(user_id, key, value), ex=ttl or self.ttl)

    def get(self, user_id: int, name: str, *, point: int | None = None) -> Any | None:
        key = self.key(user_id, name, point)
        return self.open(user_id, key, self.client.get(key))

    def get_many(self, user_id: int, names: Iterable[tuple[str, int | None]]) -> list[Any | None]:
        """Several entries `(name, point)` in one round trip."""
        keys = [self.key(user_id, name, point) for name, point in names]
        if not keys:
            return []
        return [self.open(user_id, k, blob) for k, blob in zip(keys, self.client.mget(keys))]

    def delete(self, user_id: int, name: str, *, point: int | None = None) -> None:
        self.client.delete(self.key(user_id, name, point))

    # -- series of days -----------------------------------------------------------------

    def put_days(self, user_id: int, point: int, series: str, days: Mapping[date, Any],
                 final: Mapping[date, bool] | None = None) -> None:
        """Store one entry per day (one round trip); a day not final is fetched again later.

        Each write bumps the series' version (`readings_version`), in the same round trip."""
        if not days:
            return
        pipe = self.client.pipeline(transaction=False)
        for day, value in days.items():
            key = self.key(user_id, day_entry(series, day), point)
            record = {"v": value, "f": bool((final or {}).get(day, True))}
            pipe.set(key, self.seal(user_id, key, record), ex=self.ttl)
        pipe.hincrby(readings_version_key(point), series, 1)
        pipe.execute()

    def readings_version(self, point: int, series: str) -> int:
        """How many times days of a series of a point were written: what is computed from them names it,
        so it knows when it is out of date (0: never written, or forgotten)."""
        return int(self.client.hget(readings_version_key(point), series) or 0)

    def set_history_start(self, user_id: int, point: int, series: str, first_day: date) -> None:
        """Remember that upstream serves nothing before `first_day`, so it is not asked again."""
        self.put(user_id, history_start_entry(series), first_day.isoformat(), point=point)

    def history_start(self, user_id: int, point: int, series: str) -> date | None:
        value = self.get(user_id, history_start_entry(series), point=point)
        return date.fromisoformat(value) if value else None

    def read_range(self, user_id: int, point: int, series: str, start: date, end: date) -> RangeResult:
        """Days of [start, end) in one round trip, with what is still missing."""
        n = (end - start).days
        days = [start + timedelta(days=i) for i in range(max(0, n))]
        keys = [self.key(user_id, day_entry(series, d), point) for d in days]
        history_key = self.key(user_id, history_start_entry(series), point)
        blobs = self.client.mget(keys + [history_key])
        first = self.open(user_id, history_key, blobs[-1])
        result = RangeResult(history_start=date.fromisoformat(first) if first else None)
        for day, key, blob in zip(days, keys, blobs):
            record = self.open(user_id, key, blob)
            if record is None:
                if result.history_start is None or day >= result.history_start:
                    result.missing.append(day)
                continue
            result.days[day] = record["v"]
            if not record["f"]:
                result.partial.append(day)
                result.missing.append(day)
        return result
