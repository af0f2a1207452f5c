"""One rate limiter for the whole cluster, atomic in Valkey.

Every upstream call (retries and token requests included) first takes a slot here. The
state lives in Valkey and one Lua script decides on the **server clock**, so any number
of workers on any number of machines together stay under the upstream quota:

- `per_second`: at most ⌊rate⌋ calls in any window of ⌊rate⌋/rate seconds plus a safety
  margin (network jitter between our send and upstream's arrival must not make six
  calls land inside one of Enedis's one-second windows);
- `per_hour`: at most that many calls in any sliding hour;
- `min_interval`: at least that many seconds between two calls (EcoWatt: 15 minutes);
- `block(seconds)`: a 429 pauses every worker until the announced time.

Sliding logs (sorted sets of call times) rather than GCRA: they bound the count in every
window exactly, which is what upstream enforces, and an hour of Enedis calls is at most
10,000 small members.

When Valkey is unreachable the limiter raises `LimiterUnavailable`: callers wait and
retry, they never call upstream unguarded.
"""

from __future__ import annotations

import math
import random
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import redis

from models.calendar import today_paris
from models.keys import COUNT_TTL, count_key, interactive_budget_key, ratelimit_key
from models.valkey import count_in_window

MAX_ANNOUNCED_WAIT = 3600.0  # a Retry-After beyond an hour is treated as an hour
DEFAULT_MARGIN = 0.04  # seconds added to the per-second window (bench: `python -m bench --only backfill`)


class RateLimitWait(Exception):
    """No slot within the caller's budget; try again in `wait` seconds."""

    def __init__(self, wait: float):
        super().__init__(f"rate limited for {wait:.2f} s")
        self.wait = wait


class LimiterUnavailable(Exception):
    """Valkey could not be asked: the caller must not call upstream now."""


# KEYS: second-log, hour-log, last-call, blocked-until, strikes, extra-margin, [today's call counter]
# ARGV: mode ("take" | "peek"), n_second, window_ms, n_hour, min_interval_ms, member, max_wait_ms, hour_ms,
#       [counter ttl s]
# Returns {wait ms, 1 when a slot was taken at now + wait (the caller sleeps until then and calls), else 0}.
#
# A slot may be taken in the near future (within max_wait): the caller reserves the first instant every
# quota allows, after every slot already taken (first come, first served), and sleeps until then. Waiting
# callers thus queue instead of waking together and racing, and the quota is used to the last slot.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mode, n_sec, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n_hour, min_interval = tonumber(ARGV[4]), tonumber(ARGV[5])
local max_wait, hour = tonumber(ARGV[7]), tonumber(ARGV[8])
if n_sec > 0 then window = window + tonumber(redis.call('GET', KEYS[6]) or '0') end
local at = now
local blocked = tonumber(redis.call('GET', KEYS[4]) or '0')
if blocked > at then at = blocked end
local function after_log(key, n, span)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local count = redis.call('ZCARD', key)
  if count == 0 then return end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if tonumber(last[2]) > at then at = tonumber(last[2]) end
  if count >= n then
    local nth = redis.call('ZRANGE', key, count - n, count - n, 'WITHSCORES')
    if tonumber(nth[2]) + span > at then at = tonumber(nth[2]) + span end
  end
end
if n_sec > 0 then after_log(KEYS[1], n_sec, window) end
if n_hour > 0 then after_log(KEYS[2], n_hour, hour) end
if min_interval > 0 then
  local last = tonumber(redis.call('GET', KEYS[3]) or '-1')
  if last >= 0 and last + min_interval > at then at = last + min_interval end
end
local wait = at - now
if mode == 'peek' or wait > max_wait then return {wait, 0} end
local member = ARGV[6]
if n_sec > 0 then
  redis.call('ZADD', KEYS[1], at, member)
  redis.call('PEXPIRE', KEYS[1], wait + window + 1000)
end
if n_hour > 0 then
  redis.call('ZADD', KEYS[2], at, member)
  redis.call('PEXPIRE', KEYS[2], wait + hour + 1000)
end
if min_interval > 0 then
  redis.call('SET', KEYS[3], at, 'PX', wait + min_interval + 1000)
end
if KEYS[7] then
  redis.call('INCR', KEYS[7])
  redis.call('EXPIRE', KEYS[7], tonumber(ARGV[9]))
end
return {wait, 1}
"""

# KEYS: second-log, hour-log, blocked-until
# ARGV: member
# A caller woke for the slot it reserved: the slot now says when it really comes (a busy machine wakes
# a sleeper late, and the slots reserved after it must count from when its call leaves, not from when
# it was due). When a pause was ordered meanwhile, the slot is given back and the pause's wait returned.
_CONFIRM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return blocked - now
end
redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', 'GT', now, ARGV[1])
return 0
"""

# KEYS: blocked-until, strikes, extra-margin, [today's 429 counter]
# ARGV: mode ("block" | "backoff"), ms, base_ms, cap_ms, jitter (0..1), margin_step_ms, [counter ttl s]
# "block" pauses for ms; "backoff" counts a strike and pauses base·2^(strikes-1), capped, jittered.
# Either way the per-second window widens for the next 10 minutes: a 429 says that calls arrived closer
# together than they left (a busy machine, the network), so the margin grows by margin_step_ms, twice
# as much at the next 429, up to 4 steps more, and falls back to nothing 10 minutes after the last one.
# Returns the pause in ms; an existing later pause is kept.
_BLOCK = """
if KEYS[4] then
  redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[7]))
end
local step = tonumber(ARGV[6])
if step > 0 then
  local extra = tonumber(redis.call('GET', KEYS[3]) or '0')
  extra = math.min(4 * step, math.max(step, 2 * extra))
  redis.call('SET', KEYS[3], extra, 'PX', 600000)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2])
if ARGV[1] == 'backoff' then
  local strikes = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], 600000)
  ms = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (strikes - 1))
  ms = math.floor(ms * (0.5 + 0.5 * tonumber(ARGV[5])))
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + ms > current then
  redis.call('SET', KEYS[1], now + ms, 'PX', ms + 1000)
  return ms
end
return current - now
"""


class RateLimiter:
    """The cluster-wide limiter for one upstream quota (`name`: "enedis", "rte", "ecowatt"…).

    It also counts, per Paris day, the slots it grants (the calls made) and the pauses it is
    asked for (the 429s upstream answered), in the same round trip: the admin dashboard reads
    them (`count_key(name, "calls" | "429", day)`).
    """

    def __init__(self, client: redis.Redis, name: str, *, per_second: float | None = None,
                 per_hour: int | None = None, min_interval: float | None = None, margin: float = DEFAULT_MARGIN,
                 backoff_base: float = 2.0, backoff_cap: float = 300.0, sleep=time.sleep):
        self.client = client
        self.name = name
        # KEYS of the scripts, in this order.
        self.keys = [ratelimit_key(name, part) for part in ("second", "hour", "last", "blocked", "strikes", "margin")]
        if per_second:
            self.n_second = max(1, math.floor(per_second))
            self.window_ms = round((self.n_second / per_second + margin) * 1000)
            self.margin_step_ms = round(margin * 1000)  # what each 429 adds to the margin, for 10 minutes
        else:
            self.n_second, self.window_ms, self.margin_step_ms = 0, 0, 0
        self.n_hour = int(per_hour or 0)
        self.hour_ms = 3_600_000
        self.min_interval_ms = round((min_interval or 0) * 1000)
        self.backoff_base_ms = round(backoff_base * 1000)
        self.backoff_cap_ms = round(backoff_cap * 1000)
        self.sleep = sleep
        self._acquire = client.register_script(_ACQUIRE)
        self._block = client.register_script(_BLOCK)
        self._confirm = client.register_script(_CONFIRM)
        self._member = f"{random.getrandbits(48):012x}"
        self._sequence = 0

    def _run(self, mode: str, max_wait: float = 0.0) -> tuple[float, bool]:
        self._sequence += 1
        try:
            waited, taken = self._acquire(
                keys=[*self.keys, count_key(self.name, "calls", today_paris())],
                args=[mode, self.n_second, self.window_ms, self.n_hour, self.min_interval_ms, self._slot(),
                      round(max_wait * 1000), self.hour_ms, COUNT_TTL])
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return int(waited) / 1000, bool(taken)

    def try_acquire(self) -> float:
        """Take a slot now (0.0) or return the seconds to wait without taking one."""
        return self._run("take")[0]

    def blocked_for(self) -> float:
        """Seconds before a slot would be free (0.0: free now); takes nothing."""
        return self._run("peek")[0]

    def acquire(self, max_wait: float = 5.0) -> None:
        """Take the first free slot if it comes within `max_wait` seconds, and sleep until it; raise
        RateLimitWait (taking nothing) when it is further away.

        On waking, the slot is moved to the moment the call really leaves (`_CONFIRM`); a pause ordered
        meanwhile (a 429 answered to another worker) gives the slot back and raises RateLimitWait."""
        wait, taken = self._run("take", max_wait)
        if not taken:
            raise RateLimitWait(wait)
        if wait <= 0:
            return
        self.sleep(wait)
        try:
            paused = int(self._confirm(keys=[self.keys[0], self.keys[1], self.keys[3]], args=[self._slot()]))
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if paused > 0:
            raise RateLimitWait(paused / 1000)

    def _slot(self) -> str:
        """The name of this limiter's current slot in the logs."""
        return f"{self._member}:{self._sequence}"

    def block(self, seconds: float) -> float:
        """Pause every worker for `seconds` (a later pause already set is kept); returns the pause."""
        return self._pause("block", seconds)

    def backoff(self) -> float:
        """A 429 that announced no wait: pause everyone 2 s, 4 s, 8 s … (capped, jittered)."""
        return self._pause("backoff", 0)

    def _pause(self, mode: str, seconds: float) -> float:
        try:
            ms = self._block(keys=[self.keys[3], self.keys[4], self.keys[5], count_key(self.name, "429", today_paris())],
                             args=[mode, round(seconds * 1000), self.backoff_base_ms, self.backoff_cap_ms, random.random(),
                                   self.margin_step_ms, COUNT_TTL])
        except redis.RedisError as exc:
            raise LimiterUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return int(ms) / 1000

    def calls_last_hour(self) -> int:
        """Slots granted in the sliding hour (what `per_hour` counts; 0 when no hourly quota is kept)."""
        seconds, micros = self.client.time()
        now_ms = seconds * 1000 + micros // 1000
        return int(self.client.zcount(self.keys[1], now_ms - self.hour_ms, "+inf"))

    def reset(self) -> None:
        """Forget every call and pause (tests and benchmarks)."""
        self.client.delete(*self.keys)


# -- reading upstream's announced waits ------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or an HTTP date; capped at an hour; None when absent or unreadable."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_ANNOUNCED_WAIT)


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# WSO2 gateways write "2026-Nov-25 10:00:01+0000 UTC"; others ISO 8601 or epoch milliseconds.
_WSO2 = re.compile(r"(\d{4})-([A-Za-z]{3})-(\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?\s*([+-]\d{4})?")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_EPOCH_MS = re.compile(r"\b1\d{12}\b")


def parse_next_access_time(text: str | int | None) -> datetime | None:
    """The moment in Enedis's `nextAccessTime` (alone or inside a message), as an aware datetime."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        text = str(int(text))
    if match := _WSO2.search(text):
        year, month, day, hour, minute, second, offset = match.groups()
        if month.lower() not in _MONTHS:
            return None
        when = datetime(int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second), tzinfo=UTC)
        if offset:
            sign = 1 if offset[0] == "+" else -1
            when -= sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60) * timedelta(seconds=1)
        return when
    if match := _ISO.search(text):
        stamp = match.group(0).replace(" ", "T").replace("Z", "+00:00")
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if match := _EPOCH_MS.search(text):
        return datetime.fromtimestamp(int(match.group(0)) / 1000, UTC)
    return None



# -- what one person may ask of Enedis --------------------------------------------------------------

# A person's page views and simulations may fetch INTERACTIVE_BUDGET windows per INTERACTIVE_WINDOW
# seconds: the Enedis quota is shared by every household, so one browser cannot spend it for all.
INTERACTIVE_BUDGET = 20
INTERACTIVE_WINDOW = 300


def spend_interactive(client: redis.Redis, user_id: int) -> bool:
    """Take one window fetch from a person's budget; False when it is spent for the current window."""
    return count_in_window(client, interactive_budget_key(user_id), INTERACTIVE_WINDOW) <= INTERACTIVE_BUDGET


def interactive_budget_resets_in(client: redis.Redis, user_id: int) -> int:
    """Seconds until a person's budget window ends (0 when none is running)."""
    return max(0, int(client.ttl(interactive_budget_key(user_id))))
