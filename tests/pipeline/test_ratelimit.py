"""The cluster-wide rate limiter on a real Valkey (server clock), and announced-wait parsing."""

import threading
import time
from datetime import UTC, datetime

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.ratelimit import (
    LimiterUnavailable,
    RateLimiter,
    RateLimitWait,
    parse_next_access_time,
    parse_retry_after,
)


@pytest.fixture
def limiter_for(valkey):
    def build(**kwargs):
        return RateLimiter(valkey, "test", **kwargs)
    return build


def test_per_second_allows_the_limit_then_asks_to_wait(limiter_for):
    limiter = limiter_for(per_second=5)
    assert [limiter.try_acquire() for _ in range(5)] == [0.0] * 5
    wait = limiter.try_acquire()
    assert 0 < wait <= 1.1 + 0.01
    assert limiter.blocked_for() > 0  # peeking takes nothing and agrees


def test_per_hour_and_min_interval(limiter_for, valkey):
    hourly = limiter_for(per_hour=3)
    assert [hourly.try_acquire() for _ in range(3)] == [0.0] * 3
    assert 3590 < hourly.try_acquire() <= 3600.001
    paced = RateLimiter(valkey, "ecowatt-test", min_interval=900)
    assert paced.blocked_for() == 0.0
    assert paced.try_acquire() == 0.0
    assert 890 < paced.try_acquire() <= 900
    assert 890 < paced.blocked_for() <= 900


def test_block_pauses_every_limiter_of_the_same_name(valkey):
    one = RateLimiter(valkey, "shared", per_second=5)
    other = RateLimiter(valkey, "shared", per_second=5)
    one.block(30)
    assert 29 < other.try_acquire() <= 30
    one.block(5)  # a shorter pause never shortens a longer one
    assert 29 < other.blocked_for() <= 30
    with pytest.raises(RateLimitWait) as raised:
        other.acquire(max_wait=1)
    assert raised.value.wait > 29


def test_backoff_grows_with_each_unannounced_429(limiter_for):
    limiter = limiter_for(per_second=5, backoff_base=2, backoff_cap=10)
    waits = [limiter.backoff() for _ in range(5)]
    assert 1 <= waits[0] <= 2
    assert 2 <= waits[1] <= 4
    assert all(w <= 10 for w in waits)
    assert waits[4] >= 5  # capped at 10, jittered between half and all of it


def test_acquire_sleeps_through_short_waits(limiter_for):
    slept = []
    limiter = limiter_for(per_second=2, sleep=lambda s: (slept.append(s), time.sleep(s)))
    for _ in range(3):
        limiter.acquire(max_wait=5)
    assert len(slept) == 1 and 0 < slept[0] <= 1.2


def test_unreachable_valkey_refuses_instead_of_flooding():
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    limiter = RateLimiter(dead, "dead", per_second=5)
    with pytest.raises(LimiterUnavailable):
        limiter.acquire()
    with pytest.raises(LimiterUnavailable):
        limiter.block(10)


def test_threads_on_separate_connections_never_exceed_the_rate(valkey_url, valkey):
    """Six clients racing for 2.5 s: no one-second window holds more than 5 grants."""
    grants: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 2.5

    def hammer():
        client = redis.Redis.from_url(valkey_url)
        limiter = RateLimiter(client, "race", per_second=5)
        while time.monotonic() < stop:
            try:
                limiter.acquire(max_wait=0.5)
            except RateLimitWait:
                continue
            seconds, micros = client.time()
            with lock:
                grants.append(seconds + micros / 1e6)
        client.close()

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants.sort()
    assert len(grants) >= 10
    busiest = max(sum(1 for g in grants if s <= g < s + 1.0) for s in grants)
    assert busiest <= 5


NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("value, expected", [
    ("7", 7.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0), ("99999", 3600.0),
    ("Wed, 25 Nov 2026 10:00:30 GMT", 30.0), ("Wed, 25 Nov 2026 09:00:00 GMT", 0.0),
    (None, None), ("", None), ("soon", None), ("nan", None),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("text, expected", [
    ("2026-Nov-25 10:00:05+0000 UTC", datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)),
    ("You have exceeded your quota .You can access API after 2026-Nov-25 11:00:05+0100 UTC",
     datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)),
    ("2026-11-25T10:00:05.000Z", datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)),
    ("2026-11-25T11:00:05+01:00", datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)),
    (1795600805000, datetime.fromtimestamp(1795600805, UTC)),
    ("Message throttled out", None),
    (None, None),
])
def test_parse_next_access_time(text, expected):
    assert parse_next_access_time(text) == expected


def test_grants_and_429s_are_counted_per_paris_day(valkey):
    from models.calendar import today_paris
    from models.keys import count_key

    limiter = RateLimiter(valkey, "counted", per_second=2, per_hour=100)
    assert [limiter.try_acquire() for _ in range(3)][:2] == [0.0, 0.0]  # the third waits: not a call
    limiter.blocked_for()  # a peek is no call either
    limiter.block(0.001)
    limiter.backoff()
    day = today_paris()
    assert int(valkey.get(count_key("counted", "calls", day))) == 2
    assert int(valkey.get(count_key("counted", "429", day))) == 2
    assert 0 < valkey.ttl(count_key("counted", "calls", day)) <= 8 * 86400
    assert limiter.calls_last_hour() == 2


def test_a_wait_within_the_budget_reserves_the_next_free_slot_in_turn(limiter_for, valkey):
    """Waiting callers queue for slots instead of waking together: each is given a later slot than the one before,
    and a caller whose slot lies beyond its budget takes nothing."""
    slept = []
    limiter = limiter_for(per_second=5, sleep=slept.append)  # nobody really sleeps: the slots stay reserved
    for _ in range(5):
        limiter.acquire(max_wait=5)
    assert slept == []
    for _ in range(6):
        limiter.acquire(max_wait=5)
    # Every slot comes one window (5 calls in 1.04 s) after the slot five before it, in the order asked.
    slots = [score for _, score in valkey.zrange("releve:ratelimit:test:second", 0, -1, withscores=True)]
    assert len(slots) == 11 and len(slept) == 6 and all(wait > 0 for wait in slept)
    assert all(slots[i] >= slots[i - 5] + limiter.window_ms for i in range(5, 11))
    with pytest.raises(RateLimitWait):
        limiter.acquire(max_wait=0.5)
    assert valkey.zcard("releve:ratelimit:test:second") == 11  # refused: nothing reserved


def test_a_pause_ordered_while_a_caller_waits_for_its_slot_is_kept(valkey):
    other = RateLimiter(valkey, "shared-pause", per_second=5)
    waiter = RateLimiter(valkey, "shared-pause", per_second=5, sleep=lambda seconds: other.block(30))
    for _ in range(5):
        waiter.acquire()
    with pytest.raises(RateLimitWait) as raised:
        waiter.acquire(max_wait=5)  # its slot was reserved, but a 429 paused everyone meanwhile
    assert raised.value.wait > 25
    assert valkey.zcard("releve:ratelimit:shared-pause:second") == 5  # the slot it will not use is given back


def test_each_429_widens_the_per_second_window_for_a_while(limiter_for, valkey):
    limiter = limiter_for(per_second=5)  # 5 calls in 1.04 s
    assert valkey.get("releve:ratelimit:test:margin") is None
    widths = []
    for _ in range(4):
        limiter.block(0.001)  # upstream answered 429 (it announced almost no wait)
        widths.append(int(valkey.get("releve:ratelimit:test:margin")))
    assert widths == [40, 80, 160, 160]  # doubled at each 429, capped at four times the margin
    assert 0 < valkey.pttl("releve:ratelimit:test:margin") <= 600_000  # forgotten ten minutes after the last
    valkey.delete("releve:ratelimit:test:blocked")
    assert [limiter.try_acquire() for _ in range(5)] == [0.0] * 5
    ((_, first),) = valkey.zrange("releve:ratelimit:test:second", 0, 0, withscores=True)

    def now_ms():
        seconds, micros = valkey.time()
        return seconds * 1000 + micros // 1000

    before = now_ms()
    wait = limiter.try_acquire()
    after = now_ms()
    assert (first + 1200 - after) / 1000 <= wait <= (first + 1200 - before) / 1000  # the sixth waits 1.2 s after the first
