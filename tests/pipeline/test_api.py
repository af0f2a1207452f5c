"""The read API's services (pipeline/api.py): authentication, ownership, quotas, reads from the cache, the miss."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from factories import make_point, make_user
from tests_helpers import queued
from models.api_clients import ApiClient
from models.cache import EncryptedCache
from models.calendar import PARIS
from models.db import commit
from models.keys import ADDRESS, CONTRACT
from models.tempo import TempoDay
from pipeline import tasks
from pipeline.api import (
    Caller, Quotas, RangeError, ReadApi, authenticate, check_range, own_point, reset_user_quotas, secret_of,
    series_name, tempo_days,
)

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=PARIS)  # Enedis has published the 14th
LAST = date(2026, 3, 14)


@pytest.fixture
def settings_env():
    return {"API_QUOTA_PER_MINUTE": "30", "API_QUOTA_PER_DAY": "1000",
            "API_UPSTREAM_QUOTA_PER_MINUTE": "3", "API_UPSTREAM_QUOTA_PER_DAY": "10"}


@pytest.fixture
def api(session, settings, celery_app, valkey):
    return ReadApi(session, settings, celery_app)


@pytest.fixture
def store(settings, valkey):
    return EncryptedCache.from_settings(valkey, settings)


def issue(session, user, name="HA") -> tuple[ApiClient, str]:
    client, secret = ApiClient.issue(user.id, name)
    session.add(client)
    session.flush()
    return client, secret


def caller_of(session, user) -> Caller:
    client, _ = issue(session, user)
    return Caller(client.id, client.client_id, user.id)


def daily(day: date, wh: int) -> dict:
    return {"day": day.isoformat(), "value": wh}


# -- authentication -----------------------------------------------------------------------------------


def test_a_secret_finds_its_client_and_account_in_one_lookup(session):
    alice = make_user(session)
    client, secret = issue(session, alice)
    caller = authenticate(session, secret)
    assert caller == Caller(client.id, client.client_id, alice.id)
    session.refresh(client)
    assert client.last_used_at is not None
    assert authenticate(session, secret + "x") is None
    assert authenticate(session, "") is None and authenticate(session, None) is None


def test_revoked_secrets_and_disabled_accounts_are_refused_at_once(session):
    alice, bob = make_user(session), make_user(session)
    revoked, revoked_secret = issue(session, alice)
    _, bob_secret = issue(session, bob)
    assert authenticate(session, revoked_secret) and authenticate(session, bob_secret)
    revoked.revoked_at = datetime.now(UTC)
    bob.is_active = False
    session.flush()
    assert authenticate(session, revoked_secret) is None
    assert authenticate(session, bob_secret) is None


def test_the_secret_hash_is_unique(session):
    alice = make_user(session)
    client, _ = issue(session, alice)
    twin = ApiClient(user_id=alice.id, client_id="x" * 32, secret_hash=client.secret_hash)
    session.add(twin)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.flush()


@pytest.mark.parametrize("header, raw, expected", [
    ("Bearer abc", False, "abc"), ("bearer  abc ", False, "abc"), ("abc", True, "abc"), ("abc", False, None),
    ("Basic abc", True, None), ("Bearer", False, None), (None, False, None), ("Bearer a\x00b", False, None),
    ("Bearer " + "a" * 1_000_000, False, None), ("Bearer é", False, None), ("Bearer a b", False, None),
])
def test_secret_of_reads_bearer_and_raw_values_and_nothing_hostile(header, raw, expected):
    assert secret_of(header, raw=raw) == expected


# -- ownership ----------------------------------------------------------------------------------------


def test_another_accounts_pdl_is_not_found(session):
    alice, bob = make_user(session), make_user(session)
    mine, theirs = make_point(session, alice), make_point(session, bob)
    assert own_point(session, alice.id, mine.pdl).id == mine.id
    assert own_point(session, alice.id, theirs.pdl) is None
    for hostile in ("", "123", "1" * 15, "0123456789012\x00", None, "x" * 1_000_000):
        assert own_point(session, alice.id, hostile) is None


def test_series_names_follow_the_point(session):
    alice = make_user(session)
    consumer = make_point(session, alice, kind="consumption", load_curve_enabled=False)
    producer = make_point(session, alice, kind="production")
    assert series_name(consumer, "daily") == "daily_consumption"
    assert series_name(consumer, "curve") is None  # no load curve collected
    assert series_name(consumer, "production_daily") == "daily_production"  # self-consumption, when cached
    assert series_name(producer, "daily") is None and series_name(producer, "max") is None
    assert series_name(producer, "production_curve") == "production_load_curve"


def test_ranges_are_bounded():
    check_range(date(2026, 1, 1), date(2026, 2, 1), 31)
    with pytest.raises(RangeError) as too_long:
        check_range(date(2026, 1, 1), date(2026, 2, 2), 31)
    assert too_long.value.code == "RANGE_TOO_LONG"
    with pytest.raises(RangeError) as empty:
        check_range(date(2026, 1, 1), date(2026, 1, 1), 31)
    assert empty.value.code == "INVALID_RANGE"


# -- quotas -------------------------------------------------------------------------------------------


def test_cache_and_upstream_reads_are_counted_apart_and_a_refusal_counts_nothing(settings, valkey):
    quotas = Quotas(valkey, settings)
    now = time.time()
    for _ in range(3):
        assert quotas.charge(7, "upstream", now=now).allowed
    refused = quotas.charge(7, "upstream", now=now)
    assert not refused.allowed and refused.refused == "upstream:minute" and 1 <= refused.retry_after <= 60
    assert refused.used["upstream:minute"] == 3 and refused.used["upstream:day"] == 3
    state = quotas.charge(7, "cache", now=now)  # cache reads have their own counters
    assert state.allowed and state.used == {"cache:minute": 1, "cache:day": 1, "upstream:minute": 3, "upstream:day": 3}
    assert state.headers()["X-Quota-Upstream-Minute"] == "3/3" and state.headers()["X-Quota-Cache-Day"] == "1/1000"
    assert quotas.peek(8, now=now).used["cache:day"] == 0  # another client's counters are its own
    # The next minute: the minute's counter starts again, the day's goes on up to its limit.
    for minute in range(1, 4):
        assert [quotas.charge(7, "upstream", now=now + 60 * minute).allowed for _ in range(3)].count(True) == \
            (3 if minute < 3 else 1)
    day_refused = quotas.charge(7, "upstream", now=now + 240)
    assert day_refused.refused == "upstream:day" and day_refused.retry_after > 0


def test_concurrent_callers_never_exceed_the_quota(settings, valkey_url, valkey):
    now = time.time()
    allowed: list[bool] = []
    lock = threading.Lock()

    def caller():
        quotas = Quotas(redis.Redis.from_url(valkey_url), settings)  # a connection of its own, like a web process
        mine = [quotas.charge(42, "cache", now=now).allowed for _ in range(10)]
        with lock:
            allowed.extend(mine)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(allowed) == 80
    assert allowed.count(True) == 30  # API_QUOTA_PER_MINUTE, exactly: never more, none lost
    assert Quotas(valkey, settings).peek(42, now=now).used["cache:minute"] == 30


def test_an_administrators_reset_clears_every_client_of_the_account(session, settings, valkey):
    alice, bob = make_user(session), make_user(session)
    (a1, _), (a2, _), (b1, _) = issue(session, alice), issue(session, alice), issue(session, bob)
    quotas = Quotas(valkey, settings)
    for pk in (a1.id, a2.id, b1.id):
        quotas.charge(pk, "cache")
        quotas.charge(pk, "upstream")
    assert reset_user_quotas(session, valkey, settings, alice.id) == 8
    assert quotas.peek(a1.id).used["cache:day"] == 0 and quotas.peek(a2.id).used["upstream:day"] == 0
    assert quotas.peek(b1.id).used["cache:day"] == 1


# -- reads --------------------------------------------------------------------------------------------


def test_a_cached_range_is_served_from_the_cache_and_costs_a_cache_read(api, session, store, valkey):
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption")
    caller = caller_of(session, alice)
    first = LAST - timedelta(days=9)
    store.put_days(alice.id, point.id, "daily_consumption",
                   {first + timedelta(days=i): daily(first + timedelta(days=i), 1000 + i) for i in range(10)})
    served = api.series(caller, point, "daily_consumption", first, LAST + timedelta(days=3), now=NOW)
    read = served.read
    assert served.quota.allowed and served.quota.used["cache:minute"] == 1 and served.quota.used["upstream:day"] == 0
    assert read.complete and not read.fetching and len(read.days) == 10
    assert read.days[LAST]["value"] == 1009
    assert read.outside == 2  # the 15th and 16th are not published yet: absent, never "missing"
    commit(session)
    assert queued(valkey) == []


def test_a_miss_enqueues_one_interactive_fetch_of_the_missing_run_and_polling_costs_no_upstream_call(
        api, session, store, valkey):
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption")
    caller = caller_of(session, alice)
    first = LAST - timedelta(days=9)
    store.put_days(alice.id, point.id, "daily_consumption",
                   {first + timedelta(days=i): daily(first + timedelta(days=i), 1) for i in range(7)})
    served = api.series(caller, point, "daily_consumption", first, LAST + timedelta(days=1), now=NOW)
    read = served.read
    assert read.missing == [LAST - timedelta(days=2), LAST - timedelta(days=1), LAST]
    assert read.fetching and read.retry_after > 0 and read.blocked is None
    assert served.quota.used["upstream:minute"] == 1 and served.quota.used["cache:minute"] == 0
    assert queued(valkey) == []  # sent once the request's transaction commits
    commit(session)
    assert queued(valkey) == [(tasks.FETCH_WINDOW, {"point_id": point.id, "series": "daily_consumption",
                                                    "start": "2026-03-12", "end": "2026-03-15", "backfill": False})]
    again = api.series(caller, point, "daily_consumption", first, LAST + timedelta(days=1), now=NOW)
    commit(session)
    assert again.read.fetching and again.quota.used["upstream:minute"] == 1 and again.quota.used["cache:minute"] == 1
    assert len(queued(valkey)) == 1  # the fetch under way is not sent twice


def test_days_cached_but_not_final_are_served_and_cost_no_upstream_call(api, session, store, valkey):
    """An hourly poller of the last days: what is cached is served, not final or not (#16: the refresh
    passes fetch those days again for meters in use; a read never does)."""
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption")
    caller = caller_of(session, alice)
    first = LAST - timedelta(days=4)
    days = {first + timedelta(days=i): daily(first + timedelta(days=i), 10 + i) for i in range(5)}
    store.put_days(alice.id, point.id, "daily_consumption", days,
                   {day: day < LAST - timedelta(days=1) for day in days})  # D-2 and D-1 not final
    for _ in range(3):
        served = api.series(caller, point, "daily_consumption", first, LAST + timedelta(days=1), now=NOW)
        commit(session)
        read = served.read
        assert read.complete and not read.fetching and read.missing == []
        assert read.partial == [LAST - timedelta(days=1), LAST] and read.days[LAST]["value"] == 14
        assert served.quota.used["upstream:day"] == 0
    assert queued(valkey) == []


def test_a_point_waiting_for_consent_enqueues_nothing(api, session, valkey):
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption", status="consent_needed")
    caller = caller_of(session, alice)
    served = api.series(caller, point, "daily_consumption", LAST - timedelta(days=2), LAST, now=NOW)
    assert served.read.missing and served.read.blocked == "consent_needed" and not served.read.fetching
    assert served.quota.used["cache:minute"] == 1
    commit(session)
    assert queued(valkey) == []


def test_days_before_history_are_outside_never_missing(api, session, valkey):
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption", activation_date=LAST - timedelta(days=1))
    served = api.series(caller_of(session, alice), point, "daily_consumption",
                        LAST - timedelta(days=30), LAST + timedelta(days=1), now=NOW)
    assert served.read.missing == [LAST - timedelta(days=1), LAST] and served.read.outside == 29


def test_an_exhausted_upstream_quota_enqueues_nothing(api, session, valkey, settings):
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption")
    caller = caller_of(session, alice)
    for _ in range(settings.api_upstream_quota_per_minute):
        Quotas(valkey, settings).charge(caller.client_pk, "upstream")
    served = api.series(caller, point, "daily_consumption", LAST - timedelta(days=2), LAST, now=NOW)
    assert not served.quota.allowed and served.quota.refused == "upstream:minute"
    commit(session)
    assert queued(valkey) == []


def test_a_missing_contract_asks_for_the_customer_data_once(api, session, store, valkey):
    alice = make_user(session)
    point = make_point(session, alice, kind="consumption")
    caller = caller_of(session, alice)
    served = api.entry(caller, point, CONTRACT)
    assert served.read.value is None and served.read.fetching
    api.entry(caller, point, ADDRESS)
    commit(session)
    assert queued(valkey) == [(tasks.FETCH_CUSTOMER, {"point_id": point.id})]
    store.put(alice.id, CONTRACT, {"subscribed_power_kva": 9}, point=point.id)
    cached = api.entry(caller, point, CONTRACT)
    assert cached.read.value == {"subscribed_power_kva": 9} and not cached.read.fetching


def test_public_tempo_days(session):
    now = datetime.now(UTC)
    session.add_all([TempoDay(day=date(2026, 1, d), colour=c, updated_at=now, fetched_at=now)
                     for d, c in ((1, "BLUE"), (2, "RED"), (3, "WHITE"))])
    session.flush()
    assert tempo_days(session, date(2026, 1, 2), date(2026, 1, 4)) == {date(2026, 1, 2): "RED", date(2026, 1, 3): "WHITE"}
    assert session.scalar(select(TempoDay.colour).where(TempoDay.day == date(2026, 1, 1))) == "BLUE"
