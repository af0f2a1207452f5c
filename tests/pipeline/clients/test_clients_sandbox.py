"""The upstream clients against the sandbox over HTTP: typed errors, tokens, retries, faults."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.cache import EncryptedCache
from pipeline.clients.base import (
    ConsentNeeded,
    HistoryExhausted,
    LoadCurveNotActivated,
    PermanentError,
    Throttled,
    Unavailable,
    WrongPointKind,
)
from pipeline.clients.enedis import AuthFailed, EnedisClient
from pipeline.clients.rte import RteClient
from pipeline.ratelimit import RateLimiter
from pipeline.services import AppSecrets

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=PARIS)
C0, NO_CURVE, PRODUCTION, REVOKED = "22516914714270", "32320647321714", "24880057139941", "26584978546985"


@pytest.fixture(scope="module")
def sandbox_config():
    return {"RATE_PER_SECOND": 1000, "CLIENTS": {"app": "secret"}, "REGISTER_ALL": True}


@pytest.fixture(autouse=True)
def frozen_clock(sandbox):
    sandbox.state.set_clock(NOW, frozen=True)


@pytest.fixture
def secrets(valkey):
    return AppSecrets(EncryptedCache(valkey, b"m" * 32))


@pytest.fixture
def enedis(sandbox, secrets, valkey):
    return EnedisClient(sandbox.url, "app", "secret", store=secrets,
                        limiter=RateLimiter(valkey, "enedis-test", per_second=1000), timeout=(1, 2))


def paths(sandbox, fragment=""):
    return [c.path for c in sandbox.state.calls_since(0) if fragment in c.path]


def test_readings_and_customer_data(enedis):
    days = enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 13))
    assert [d.day for d in days] == [date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)]
    curve = enedis.load_curve(C0, date(2026, 11, 10), date(2026, 11, 11))
    assert len(curve) == 48 and curve[0].start == datetime(2026, 11, 10, 0, 0, tzinfo=PARIS)
    assert sum(p.wh for p in curve) == days[0].value
    assert enedis.contract(C0)["subscribed_power"]
    assert enedis.address(C0)


@pytest.mark.parametrize("call, error", [
    (lambda c: c.load_curve(NO_CURVE, date(2026, 11, 10), date(2026, 11, 11)), LoadCurveNotActivated),
    (lambda c: c.daily_consumption(PRODUCTION, date(2026, 11, 10), date(2026, 11, 11)), WrongPointKind),
    (lambda c: c.daily_consumption(REVOKED, date(2026, 11, 10), date(2026, 11, 11)), ConsentNeeded),
    (lambda c: c.daily_consumption(C0, date(2020, 1, 1), date(2020, 1, 2)), HistoryExhausted),
    (lambda c: c.daily_consumption(C0, date(2026, 11, 10), date(2026, 12, 1)), PermanentError),  # end after today
])
def test_upstream_errors_are_typed_by_code(enedis, call, error):
    with pytest.raises(error):
        call(enedis)


def test_no_data_is_an_empty_answer(enedis):
    assert enedis.daily_consumption("42900589957123", date(2026, 11, 10), date(2026, 11, 12)) == []  # Tue, Wed


def test_one_token_is_shared_through_the_store(sandbox, secrets, valkey, enedis):
    enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))
    other_worker = EnedisClient(sandbox.url, "app", "secret", store=secrets)
    other_worker.daily_consumption(C0, date(2026, 11, 11), date(2026, 11, 12))
    assert len(paths(sandbox, "/oauth2/v3/token")) == 1
    [key] = [k for k in valkey.keys("*") if b"token" in k]
    assert b"access_token" not in valkey.get(key)  # sealed: the token is not readable in Valkey


def test_an_expired_token_is_renewed_once(sandbox, enedis):
    enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))
    sandbox.state.add_fault("expired-token", api="enedis", calls=1)
    assert len(enedis.daily_consumption(C0, date(2026, 11, 11), date(2026, 11, 12))) == 1
    assert len(paths(sandbox, "/oauth2/v3/token")) == 2
    sandbox.state.add_fault("expired-token", api="enedis", calls=2)
    with pytest.raises(AuthFailed):
        enedis.daily_consumption(C0, date(2026, 11, 11), date(2026, 11, 12))


def test_short_failures_are_retried_then_given_up(sandbox, enedis):
    sandbox.state.add_fault("500", api="enedis", calls=1, path="/metering")
    assert len(enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))) == 1
    sandbox.state.add_fault("malformed", api="enedis", calls=5, path="/metering")
    with pytest.raises(Unavailable):
        enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))
    assert len(paths(sandbox, "/metering")) == 1 + 1 + 3  # tenacity: three attempts, then the task's turn


def test_a_timeout_is_unavailable(sandbox, enedis):
    enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))  # token first
    sandbox.state.add_fault("timeout", api="enedis", calls=3, delay=2.5, path="/metering")
    with pytest.raises(Unavailable):
        enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))


def test_a_long_announced_wait_is_throttled_at_once_and_pauses_everyone(sandbox, enedis, valkey):
    enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))
    sandbox.state.add_fault("429", api="enedis", calls=1, retry_after=120)
    with pytest.raises(Throttled) as raised:
        enedis.daily_consumption(C0, date(2026, 11, 10), date(2026, 11, 11))
    assert 115 < raised.value.retry_after <= 120
    assert RateLimiter(valkey, "enedis-test", per_second=1000).blocked_for() > 115


def test_rte_ecowatt_limit_and_tempo(sandbox, secrets, valkey):
    rte = RteClient(sandbox.url, f"{sandbox.url}/token/oauth/", "app", "secret", store=secrets,
                    ecowatt_limiter=RateLimiter(valkey, "ecowatt-test", min_interval=900))
    days = rte.ecowatt()
    assert len(days) == 4 and all(len(d.hvalues) == 24 for d in days)
    sandbox.state.set_clock(NOW + timedelta(minutes=1), frozen=True)
    rte.ecowatt_limiter.reset()  # pretend another deployment asked: upstream itself refuses
    with pytest.raises(Throttled) as raised:
        rte.ecowatt()
    assert raised.value.retry_after > 0
    colours = rte.tempo(date(2026, 11, 1), date(2026, 11, 20))
    assert [v.day for v in colours] == [date(2026, 11, 1) + timedelta(days=i) for i in range(19)]
