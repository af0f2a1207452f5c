"""The encrypted, expiring cache of personal readings in Valkey.

Every value is sealed with AES-GCM under a key derived (HKDF-SHA256) from a master key
and the owner's user id. The associated data binds the Valkey key and the user id, so an
entry copied under another key or another user's name fails to authenticate; it is then
treated as a miss, and logged.

Layout of a stored value: format byte, key-version byte, 12-byte nonce, ciphertext with its
16-byte tag. Format 1: the plaintext is JSON (single entries; days written by earlier
releases, still read until they expire). Format 2: a day of a series in compact form
(`models/daypack.py`: the numbers only, 135 bytes sealed for a 30-minute load-curve day
where JSON took about 3.5 KB). The associated data is the same for both. The key version says which master key sealed the entry. Master keys
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

A day of a series is one key (`{series}:{YYYY-MM-DD}`): a range read is one round trip, and a
day fetched again replaces itself (a partial day is never there twice).

Reading renews: a read on behalf of the owner (a page, the API: `renew=True`, the default)
sets the time to live of every day it found back to `CACHE_TTL_SECONDS`, and marks the point
used (`releve:used`, see `used_points`), in the same round trip (one Lua script). What the
owner keeps looking at stays; what nobody reads for a whole TTL is gone. The pipeline's own
reads pass `renew=False` (a plain MGET) so that they keep nothing alive.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models import daypack
from models.keys import USED_KEY, cache_key, day_keys, history_start_entry, readings_version_key
from models.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 1  # JSON
DAY_FORMAT = 2  # a compact day (models/daypack.py)
RAW_FORMAT = 3  # bytes as they are (an API answer kept whole, `pipeline.api.ReadApi.keep_answer`)
NONCE_BYTES = 12

# KEYS: entries read and renewed (ARGV[1] of them), then entries only read, then the used set when ARGV[3] > 0
# ARGV: n renewed, ttl seconds, n points to mark used, their ids…
# Returns the values of every entry but the used set, in order (nil when absent).
_READ = """
local n, ttl, n_used = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local last = #KEYS
if n_used > 0 then last = last - 1 end
local out = {}
for i = 1, n do out[i] = redis.call('GETEX', KEYS[i], 'EX', ttl) end
for i = n + 1, last do out[i] = redis.call('GET', KEYS[i]) end
if n_used > 0 then
  local now = redis.call('TIME')[1]
  for i = 1, n_used do redis.call('ZADD', KEYS[#KEYS], now, ARGV[3 + i]) end
end
return out
"""


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


Span = tuple[int, str, date, date]  # (point id, series, start, end): days [start, end) of a series of a point


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
        self._read = client.register_script(_READ)

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

    def _seal(self, entry_format: int, user_id: int, key: str, plaintext: bytes) -> bytes:
        """format, key version, nonce, then `plaintext` sealed under the user's key and bound to `key`."""
        nonce = os.urandom(NONCE_BYTES)
        aad = f"{key}|{user_id}".encode()
        return bytes((entry_format, self.version)) + nonce + self._user_key(self.version, user_id).encrypt(nonce, plaintext, aad)

    def seal(self, user_id: int, key: str, value: Any) -> bytes:
        return self._seal(FORMAT, user_id, key, json.dumps(value, default=_json_default, separators=(",", ":")).encode())

    def seal_bytes(self, user_id: int, key: str, data: bytes) -> bytes:
        """`data` sealed as it is, no JSON around it (`open_bytes`)."""
        return self._seal(RAW_FORMAT, user_id, key, data)

    def seal_day(self, user_id: int, key: str, day: date, value: Any, final: bool) -> bytes:
        """A day of a series, compact (format 2)."""
        return self._seal(DAY_FORMAT, user_id, key, daypack.encode(day, value, final))

    def _plaintext(self, user_id: int, key: str, blob: bytes | None, formats: tuple[int, ...]) -> bytes | None:
        if blob is None:
            return None
        if len(blob) < 2 + NONCE_BYTES + 16 or blob[0] not in formats:
            log.warning("cache: unreadable entry %s (unknown format), treated as a miss", key)
            return None
        if blob[1] not in self.masters:
            # Expected after a key is retired: what it sealed is fetched again.
            log.info("cache: entry %s is sealed under key version %d, not configured (retired?): a miss",
                     key, blob[1])
            return None
        try:
            return self._user_key(blob[1], user_id).decrypt(blob[2:2 + NONCE_BYTES], blob[2 + NONCE_BYTES:],
                                                            f"{key}|{user_id}".encode())
        except InvalidTag:
            log.warning("cache: entry %s failed authentication for user %s (moved or tampered), treated as a miss",
                        key, user_id)
            return None

    def open_day(self, user_id: int, key: str, day: date, blob: bytes | None) -> tuple[Any, bool] | None:
        """(value, final) of a day entry of either format, or None for a miss."""
        plaintext = self._plaintext(user_id, key, blob, (FORMAT, DAY_FORMAT))
        if plaintext is None:
            return None
        try:
            if blob[0] == DAY_FORMAT:
                return daypack.decode(day, plaintext)
            record = json.loads(plaintext)
            return record["v"], bool(record["f"])
        except (daypack.Undecodable, ValueError, KeyError, TypeError):
            log.warning("cache: entry %s does not decode (format %d), treated as a miss", key, blob[0])
            return None

    def _open_day_fast(self, user_id: int, key: str, day: date, blob: bytes | None, aead: Mapping[int, AESGCM],
                       suffix: bytes) -> tuple[Any, bool] | None:
        """`open_day` for a range read: the common case (a compact day under a configured key) inline."""
        if blob is None:
            return None
        if blob[0] == DAY_FORMAT and len(blob) >= 2 + NONCE_BYTES + 16 and blob[1] in aead:
            try:
                plaintext = aead[blob[1]].decrypt(blob[2:2 + NONCE_BYTES], blob[2 + NONCE_BYTES:],
                                                  key.encode() + suffix)
            except InvalidTag:
                return self.open_day(user_id, key, day, blob)  # logs the failure
            if plaintext[0] == daypack.CURVE and len(plaintext) >= 4 and plaintext[2] in (2, 4):
                return daypack.CurveDay(day, packed=plaintext), bool(plaintext[1] & daypack.FINAL)
            if plaintext[0] == daypack.DAILY and len(plaintext) == 10:
                return {"day": day.isoformat(), "value": int.from_bytes(plaintext[2:], "little", signed=True)}, \
                    bool(plaintext[1] & daypack.FINAL)
            try:
                return daypack.decode(day, plaintext)
            except daypack.Undecodable:
                log.warning("cache: entry %s does not decode (format %d), treated as a miss", key, blob[0])
                return None
        return self.open_day(user_id, key, day, blob)

    def open_bytes(self, user_id: int, key: str, blob: bytes | None) -> bytes | None:
        """What `seal_bytes` sealed, or None for a miss (absent, another format, unknown key, failing authentication)."""
        return self._plaintext(user_id, key, blob, (RAW_FORMAT,))

    def open(self, user_id: int, key: str, blob: bytes | None) -> Any | None:
        """The value of a single (JSON) entry, or None for a miss (absent, unknown format or key, or failing
        authentication)."""
        plaintext = self._plaintext(user_id, key, blob, (FORMAT,))
        if plaintext is None:
            return None
        try:
            return json.loads(plaintext)
        except ValueError:
            log.warning("cache: entry %s does not decode, treated as a miss", key)
            return None

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

    def touch(self, user_id: int, name: str, *, point: int | None = None) -> bool:
        """Give an entry `CACHE_TTL_SECONDS` to live again (False: it is not there)."""
        return bool(self.client.expire(self.key(user_id, name, point), self.ttl))

    def delete(self, user_id: int, name: str, *, point: int | None = None) -> None:
        self.client.delete(self.key(user_id, name, point))

    # -- series of days -----------------------------------------------------------------

    def put_days(self, user_id: int, point: int, series: str, days: Mapping[date, Any],
                 final: Mapping[date, bool] | None = None) -> None:
        """Store one entry per day, compact (one round trip); a day not final is fetched again later.

        Each write bumps the series' version (`readings_version`), in the same round trip."""
        if not days:
            return
        pipe = self.client.pipeline(transaction=False)
        for (day, value), key in zip(days.items(), day_keys(user_id, point, series, days)):
            pipe.set(key, self.seal_day(user_id, key, day, value, bool((final or {}).get(day, True))), ex=self.ttl)
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

    def read_range(self, user_id: int, point: int, series: str, start: date, end: date, *,
                   renew: bool = True) -> RangeResult:
        """Days of [start, end) in one round trip, with what is still missing.

        `renew` (an owner's read: a page, the API): the days found live `CACHE_TTL_SECONDS` again and the
        point counts as used, in the same round trip. The pipeline's own reads pass `renew=False`.

        A day's value is what was cached (a dict, or None for a known gap), except for load-curve days,
        which come back as `daypack.CurveDay`: a read-only sequence of the same `{"start", "minutes",
        "watts", "wh"}` dicts (`.to_json()` for a plain list)."""
        return self.read_ranges(user_id, [(point, series, start, end)], renew=renew)[0][0]

    def read_ranges(self, user_id: int, spans: Sequence[Span], entries: Sequence[tuple[str, int | None]] = (), *,
                    renew: bool = True) -> tuple[list[RangeResult], list[Any | None]]:
        """Everything a page needs in one round trip: several ranges `(point, series, start, end)` of a
        user's points (each as `read_range` gives it), and single entries `(name, point)` (as `get_many`
        gives them).

        With `renew`, the days and entries found are renewed and every point of `spans` is marked used
        (`read_range`)."""
        keys: list[str] = []
        plan = []
        for point, series, start, end in spans:
            days = list(map(date.fromordinal, range(start.toordinal(), end.toordinal())))
            keys += day_keys(user_id, point, series, days)
            keys.append(self.key(user_id, history_start_entry(series), point))
            plan.append(days)
        single = [self.key(user_id, name, point) for name, point in entries]
        if not keys and not single:
            return [], []
        if renew:
            used = sorted({int(point) for point, *_ in spans})
            blobs = self._read(keys=[*keys, *single, *([USED_KEY] if used else [])],
                               args=[len(keys) + len(single), self.ttl, len(used), *used])
        else:
            blobs = self.client.mget(keys + single)
        results, at = [], 0
        aead = {version: self._user_key(version, user_id) for version in self.masters}
        suffix = f"|{user_id}".encode()
        for days in plan:
            day_blobs, history_blob = blobs[at:at + len(days)], blobs[at + len(days)]
            history_key = keys[at + len(days)]
            first = self.open(user_id, history_key, history_blob)
            result = RangeResult(history_start=date.fromisoformat(first) if first else None)
            for day, key, blob in zip(days, keys[at:at + len(days)], day_blobs):
                record = self._open_day_fast(user_id, key, day, blob, aead, suffix)
                if record is None:
                    if result.history_start is None or day >= result.history_start:
                        result.missing.append(day)
                    continue
                result.days[day] = record[0]
                if not record[1]:
                    result.partial.append(day)
                    result.missing.append(day)
            results.append(result)
            at += len(days) + 1
        return results, [self.open(user_id, k, b) for k, b in zip(single, blobs[len(keys):])]

    def used_points(self, within_seconds: int | None = None) -> set[int]:
        """Points their owner read (page or API, `renew=True`) within `within_seconds` (default: the cache's
        TTL, so exactly those whose days an owner's read kept); older marks are dropped on the way."""
        seconds, _ = self.client.time()
        since = int(seconds) - int(within_seconds if within_seconds is not None else self.ttl)
        pipe = self.client.pipeline(transaction=False)
        pipe.zremrangebyscore(USED_KEY, "-inf", f"({since}")
        pipe.zrangebyscore(USED_KEY, since, "+inf")
        return {int(member) for member in pipe.execute()[1]}
