"""Every Valkey key Relevé writes, named in one place (the Celery broker's own keys excepted),
and what a point or a user leaves behind in Valkey (`forget_point`, `forget_user`).

Other modules build keys only through these functions and constants, never by typing a
`releve:…` string. The formats are a contract with the previous release: the entries it
cached, the counters and dedupe keys it set, the progress it recorded are read by the next
one after a deploy, so a format changes only on purpose (tests/models/test_keys.py pins
each one).

No key holds a PDL or an e-mail address: points are named by their id, addresses by a
digest. A dump of Valkey alone tells nobody which meter or which person a key is about.

    releve:c:{user id}:{p{point id} or "-"}:{entry}   encrypted cache entries (models/cache.py)
    releve:progress:{point id}[:done]           backfill progress of a point
    releve:readings:{point id}                  how often each series of a point was written (a hash)
    releve:used                                 points their owner read lately (sorted set: point id → POSIX time)
    releve:once:{claim}                         dedupe claims (fetch windows, beat passes, recovery, simulations)
    releve:lock:fetch:{point id}:{window}       a backfill window being fetched (one run at a time)
    releve:ratelimit:{upstream}:{part}          the cluster-wide limiter's state
    releve:budget:{user id}                     interactive fetches a person may still ask for
    releve:quota:{api client id}:{kind}:{m|d}:{bucket}  an API client's reads in a minute or a Paris day
    releve:access:[gen:]{secret hash}           who an API secret is, kept between requests, and its generation (models/access.py)
    releve:login:{acct|addr}:{…}                failed sign-ins
    releve:mail:{purpose}:{acct|addr}:{…}       mails a visitor may still trigger
    releve:heartbeat:{beat|worker|workers}      liveness, read by /healthz and the admin dashboard
    releve:count:{subject}:{metric}:{day}       a day's counters for the admin dashboard (upstream calls, 429s, failed tasks)
    releve:tasks:failures                       the last failed tasks (time, name, error type: never arguments)
    releve:recovery:valkey-run                  Valkey's run id as the recovery check last saw it
    releve:redbeat…                             beat's schedule and lock (celery-redbeat)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from itertools import chain, islice

import redis

# -- the encrypted cache -------------------------------------------------------------------------

CACHE_PREFIX = "releve:c"
NO_POINT = "-"  # entries of a user that belong to no point (and the application's tokens, user 0)
CONTRACT = "contract"
ADDRESS = "address"


def _point(point_id: int) -> str:
    # "p" + the usage point's id: never a 20-hex-digit tag of earlier releases, never a PDL.
    return f"p{int(point_id)}"


def cache_key(user_id: int, point_id: int | None, entry: str) -> str:
    """The Valkey key of one cache entry: `entry` of a user, of one of its points or of none."""
    return f"{CACHE_PREFIX}:{int(user_id)}:{NO_POINT if point_id is None else _point(point_id)}:{entry}"


def cache_pattern(user_id: int, point_id: int | None = None) -> str:
    """SCAN pattern of every cache entry of a user, or of one point of a user."""
    return f"{CACHE_PREFIX}:{int(user_id)}:{'' if point_id is None else _point(point_id) + ':'}*"


def day_entry(series: str, day: date) -> str:
    """A day of a series: one entry a day, so a day fetched again replaces itself."""
    return f"{series}:{day.isoformat()}"


def day_keys(user_id: int, point_id: int, series: str, days: Iterable[date]) -> list[str]:
    """The keys of several days of a series of a point (`cache_key(…, day_entry(series, day))` each, built once)."""
    prefix = cache_key(user_id, point_id, series) + ":"
    return [prefix + day.isoformat() for day in days]


def history_start_entry(series: str) -> str:
    """The first day upstream serves of a series (nothing before it is asked)."""
    return f"{series}:history-start"


def cost_entry(digest: str) -> str:
    """An offer's costs computed for a point, named by the digest of everything they were computed from
    (`pipeline.costs`): new readings, prices or calendars make a new name, never a stale answer."""
    return f"costs:{digest}"


def answer_entry(variant: str, series: str, start: date, end: date, last: date) -> str:
    """An API answer kept for a complete range [start, end) of a series, as `variant` formats it, while `last`
    is the newest published day (`pipeline.api.ReadApi.keep_answer`)."""
    return f"answer:{variant}:{series}:{start.isoformat()}:{end.isoformat()}:{last.isoformat()}"


SIMULATION = "simulation"  # the simulator's last result for a point (`pipeline.tasks.costs`)
SIMULATION_PROGRESS = "simulation:progress"  # where the simulator's task stands


def token_entry(upstream: str) -> str:
    """An application's access token, in the cache under the application scope."""
    return f"token:{upstream}"


# -- backfill progress and dedupe claims ------------------------------------------------------------

PROGRESS_PREFIX = "releve:progress"
ONCE_PREFIX = "releve:once:"


def progress_key(point_id: int) -> str:
    """Hash {total, done}: windows planned and fetched for a point's backfill."""
    return f"{PROGRESS_PREFIX}:{point_id}"


def progress_done_key(point_id: int) -> str:
    """Set of the windows already counted (a window run twice counts once), members `progress_window()`."""
    return f"{progress_key(point_id)}:done"


def progress_window(series: str, start: date | str, end: date | str) -> str:
    """A window as a member of `progress_done_key`'s set."""
    return f"{series}:{start}:{end}"


READINGS_PREFIX = "releve:readings"


def readings_version_key(point_id: int) -> str:
    """Hash {series: n}: bumped by every write of a point's days (`EncryptedCache.put_days`), so what was
    computed from them can tell it is out of date without reading them again."""
    return f"{READINGS_PREFIX}:{int(point_id)}"


USED_KEY = "releve:used"


def once_key(claim: str) -> str:
    """The key that makes `claim` happen once per period (SET NX EX)."""
    return f"{ONCE_PREFIX}{claim}"


def fetch_claim(point_id: int, series: str, start: date | str, end: date | str) -> str:
    """The claim of one window's fetch of a point (enqueued once per dedupe period)."""
    return f"fetch:{point_id}:{series}:{start}:{end}"


def fetch_claims_pattern(point_id: int) -> str:
    """SCAN pattern of every fetch claim of a point."""
    return once_key(fetch_claim(point_id, "*", "*", "*"))


def series_refreshed_claim(point_id: int, series: str, day: date) -> str:
    """A series of a point was fetched again by a refresh pass of `day` (its not-final days wait for tomorrow's)."""
    return f"refreshed:{int(point_id)}:{series}:{day.isoformat()}"


def contract_checked_claim(point_id: int) -> str:
    """The refresh passes read a point's contract again at most once per claim period (its off-peak hours)."""
    return f"contract-checked:{int(point_id)}"


VALKEY_RUN_KEY = "releve:recovery:valkey-run"  # the run id of Valkey the recovery check last saw


def resume_claim(point_id: int) -> str:
    """The claim of the recovery check taking over a point's backfill (or onboarding), once per stall period."""
    return f"resume:{point_id}"


def simulation_claim(point_id: int) -> str:
    """The claim of a simulation request for a point (a double click enqueues one task)."""
    return f"simulate:{point_id}"


def customer_claim(point_id: int) -> str:
    """The claim of an API read's request for a point's contract and address, when no copy is cached."""
    return f"customer:{int(point_id)}"


def contract_claim(point_id: int) -> str:
    """The claim of a page's request for a point's contract, when no copy is cached."""
    return f"contract:{point_id}"


def refresh_pass_claim(day: date, hour: int) -> str:
    """The claim of one morning refresh pass (beat may tick twice)."""
    return f"refresh_all:{day}:{hour}"


def tempo_season_claim(day: date) -> str:
    """The claim of the daily Tempo season pass."""
    return f"tempo_season:{day}"


def admin_refresh_claim(point_id: int) -> str:
    """The claim of a refresh an administrator forced (one per point per few minutes)."""
    return f"admin_refresh:{int(point_id)}"


def tempo_history_claim(day: date) -> str:
    """The claim of the daily pass over past Tempo seasons."""
    return f"tempo_history:{day}"


# -- limits and counters ----------------------------------------------------------------------------

RATELIMIT_PREFIX = "releve:ratelimit"


def ratelimit_key(upstream: str, part: str) -> str:
    """One part of the limiter's state for an upstream quota ("second", "hour", "last", "blocked", "strikes", "margin")."""
    return f"{RATELIMIT_PREFIX}:{upstream}:{part}"


def interactive_budget_key(user_id: int) -> str:
    """Interactive fetches a person's page views asked for in the current window."""
    return f"releve:budget:{user_id}"


QUOTA_PREFIX = "releve:quota"


def quota_key(client_pk: int, kind: str, period: str, bucket: str) -> str:
    """An API client's reads of `kind` ("cache" or "upstream") in one `period` ("m": the minute numbered
    `bucket` since the epoch; "d": the Paris day `bucket`, YYYY-MM-DD), counted by `pipeline.api.Quotas`."""
    return f"{QUOTA_PREFIX}:{int(client_pk)}:{kind}:{period}:{bucket}"


def quota_pattern(client_pk: int) -> str:
    """SCAN pattern of every quota counter of an API client (an administrator's reset)."""
    return f"{QUOTA_PREFIX}:{int(client_pk)}:*"


ACCESS_PREFIX = "releve:access"


def access_key(secret_hash: str) -> str:
    """An API client's access kept between requests (`models.access`), named by its secret's SHA-256."""
    return f"{ACCESS_PREFIX}:{secret_hash}"


def access_generation_key(secret_hash: str) -> str:
    """The generation an access entry of this secret must carry to be used (`models.access`)."""
    return f"{ACCESS_PREFIX}:gen:{secret_hash}"


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]  # no e-mail addresses in Valkey keys


def login_keys(email: str, address: str) -> tuple[str, str]:
    """Failed sign-in counters: (of the account, by e-mail digest; of the client address)."""
    return f"releve:login:acct:{_digest(email)}", f"releve:login:addr:{address}"


def mail_keys(purpose: str, email: str, address: str) -> tuple[str, str]:
    """Counters of `purpose` mails in the current window: (to the e-mail address, by digest; from the client address)."""
    return f"releve:mail:{purpose}:acct:{_digest(email)}", f"releve:mail:{purpose}:addr:{address}"


COUNT_PREFIX = "releve:count"
COUNT_TTL = 8 * 86400  # the dashboard shows today; a week stays for a look back
TASK_FAILURES_KEY = "releve:tasks:failures"
TASK_FAILURES_KEPT = 50


def count_key(subject: str, metric: str, day: date) -> str:
    """A counter of one Paris day: `subject` an upstream limiter ("enedis", "rte", "ecowatt") or "tasks",
    `metric` "calls", "429" or "failed"."""
    return f"{COUNT_PREFIX}:{subject}:{metric}:{day.isoformat()}"


# -- liveness and beat ------------------------------------------------------------------------------

BEAT_HEARTBEAT_KEY = "releve:heartbeat:beat"
WORKER_HEARTBEAT_KEY = "releve:heartbeat:worker"  # the beat-scheduled heartbeat task ran (beat → broker → worker)
WORKERS_HEARTBEAT_KEY = "releve:heartbeat:workers"  # sorted set: worker node name → time of its last heartbeat
REDBEAT_PREFIX = "releve:redbeat"  # celery-redbeat's schedule entries and lock
REDBEAT_LOCK_KEY = f"{REDBEAT_PREFIX}:lock"  # the single-beat lock (redbeat's own name for it, kept)


# -- forgetting ------------------------------------------------------------------------------------


def _unlink(client: redis.Redis, keys: Iterable[str | bytes]) -> int:
    removed, keys = 0, iter(keys)
    while batch := list(islice(keys, 1000)):  # UNLINK frees memory off the main thread
        removed += client.unlink(*batch)
    return removed


def _point_keys(client: redis.Redis, point_id: int) -> Iterable[str | bytes]:
    return chain((progress_key(point_id), progress_done_key(point_id), once_key(resume_claim(point_id)),
                  readings_version_key(point_id)),
                 client.scan_iter(match=fetch_claims_pattern(point_id), count=1000))


def forget_point(client: redis.Redis, user_id: int, point_id: int) -> int:
    """Drop what Valkey holds of one point of a user: its cache entries, backfill progress and
    fetch claims (it changed hands, or was removed). Its next holder, a new point, starts from
    nothing and has its windows enqueued at once; it is no longer counted as used. Returns how many keys went."""
    client.zrem(USED_KEY, int(point_id))
    return _unlink(client, chain(client.scan_iter(match=cache_pattern(user_id, point_id), count=1000),
                                 _point_keys(client, point_id)))


def forget_user(client: redis.Redis, user_id: int, point_ids: Iterable[int]) -> int:
    """Drop what Valkey holds of a user (account deleted): every cache entry, the progress and
    fetch claims of each of its points (`point_ids`, read before the rows go), its interactive
    budget. Returns how many keys went."""
    point_ids = [int(p) for p in point_ids]
    if point_ids:
        client.zrem(USED_KEY, *point_ids)
    return _unlink(client, chain(client.scan_iter(match=cache_pattern(user_id), count=1000),
                                 (interactive_budget_key(user_id),),
                                 *(_point_keys(client, point_id) for point_id in point_ids)))
