"""The encrypted cache on a real Valkey: sealing, binding, ranges in one round trip, key rotation."""

import base64
import logging
import os
from datetime import date, timedelta

import pytest
import redis

from models.cache import EncryptedCache
from models.settings import Settings
from pipeline.services import AppSecrets

POINT = 41  # a usage point id


class CountingRedis(redis.Redis):
    """A real client that counts its round trips (pipelines count as one)."""

    round_trips = 0

    def execute_command(self, *args, **options):
        self.round_trips += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        self.round_trips += 1
        return super().pipeline(transaction, shard_hint)


@pytest.fixture
def counting(valkey_url, valkey):
    client = CountingRedis.from_url(valkey_url)
    yield client
    client.close()


@pytest.fixture
def cache(counting):
    return EncryptedCache(counting, os.urandom(32), ttl_seconds=600)


def test_round_trip_and_ttl(cache, valkey):
    cache.put(7, "contract", {"subscribed_power": "9 kVA"}, point=POINT)
    assert cache.get(7, "contract", point=POINT) == {"subscribed_power": "9 kVA"}
    key = cache.key(7, "contract", POINT)
    assert 0 < valkey.ttl(key) <= 600
    assert key == "releve:c:7:p41:contract"  # named by the point's id: no meter number, no key involved
    assert b"9 kVA" not in valkey.get(key)  # sealed, not plain JSON


def test_entry_copied_under_another_user_does_not_decrypt(cache, valkey, caplog):
    cache.put(7, "contract", {"owner": "alice"}, point=POINT)
    stolen = valkey.get(cache.key(7, "contract", POINT))
    valkey.set(cache.key(8, "contract", POINT), stolen)
    with caplog.at_level(logging.WARNING, logger="models.cache"):
        assert cache.get(8, "contract", point=POINT) is None
    assert "failed authentication for user 8" in caplog.text
    assert cache.get(7, "contract", point=POINT) == {"owner": "alice"}


def test_entry_moved_to_another_key_or_tampered_is_a_miss(cache, valkey):
    cache.put(7, "contract", {"a": 1}, point=POINT)
    blob = valkey.get(cache.key(7, "contract", POINT))
    valkey.set(cache.key(7, "address", POINT), blob)
    assert cache.get(7, "address", point=POINT) is None
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    valkey.set(cache.key(7, "contract", POINT), flipped)
    assert cache.get(7, "contract", point=POINT) is None
    valkey.set(cache.key(7, "contract", POINT), b"\x09garbage")
    assert cache.get(7, "contract", point=POINT) is None


def test_another_master_key_cannot_read(counting):
    EncryptedCache(counting, b"k" * 32).put(1, "x", 1)
    other = EncryptedCache(counting, b"z" * 32)
    assert other.get(1, "x") is None


def test_rotation_keeps_old_entries_readable(counting):
    old, new = b"o" * 32, b"n" * 32
    EncryptedCache(counting, {1: old}).put(3, "contract", {"v": 1}, point=POINT)
    rotated = EncryptedCache(counting, {2: new, 1: old})
    assert rotated.get(3, "contract", point=POINT) == {"v": 1}
    rotated.put(3, "address", {"v": 2}, point=POINT)
    assert rotated.get(3, "address", point=POINT) == {"v": 2}
    assert counting.get(rotated.key(3, "address", POINT))[1] == 2  # sealed under the new key version
    assert EncryptedCache(counting, {1: old}).get(3, "address", point=POINT) is None  # unknown version: a miss


def settings_with(current: str, previous: str = "") -> Settings:
    return Settings.from_env({"RELEVE_MASTER_KEY": current, "RELEVE_MASTER_KEY_PREVIOUS": previous})


def test_a_rotation_as_configured(counting, caplog):
    """Key A, then B current and A previous (old entries read, new ones sealed with B), then B alone."""
    a, b = (base64.urlsafe_b64encode(os.urandom(32)).decode() for _ in range(2))
    before = EncryptedCache.from_settings(counting, settings_with(a))
    before.put(3, "contract", {"sealed": "A"}, point=POINT)
    AppSecrets(before).put("token:enedis", {"access_token": "t-A"}, ttl=600)

    during = EncryptedCache.from_settings(counting, settings_with(f"2:{b}", a))
    assert during.get(3, "contract", point=POINT) == {"sealed": "A"}
    assert AppSecrets(during).get("token:enedis") == {"access_token": "t-A"}
    during.put(3, "address", {"sealed": "B"}, point=POINT)
    assert counting.get(during.key(3, "address", POINT))[1] == 2
    assert counting.get(during.key(3, "contract", POINT))[1] == 1  # a read does not rewrite

    after = EncryptedCache.from_settings(counting, settings_with(f"2:{b}"))
    with caplog.at_level(logging.INFO, logger="models.cache"):
        assert after.get(3, "contract", point=POINT) is None  # sealed under A, retired: a miss
        assert AppSecrets(after).get("token:enedis") is None  # the token is fetched again
    assert "key version 1, not configured" in caplog.text
    assert after.get(3, "address", point=POINT) == {"sealed": "B"}
    # Names never depended on the keys: the same entry has the same name under A, A+B and B.
    assert before.key(3, "contract", POINT) == during.key(3, "contract", POINT) == after.key(3, "contract", POINT)


def test_the_current_version_seals_even_when_a_previous_one_is_higher(counting):
    """Versions may wrap around (255 → 1): the configured current key seals, not the highest version."""
    cache = EncryptedCache(counting, {255: b"o" * 32, 1: b"n" * 32}, current=1)
    cache.put(3, "contract", {"v": 1})
    assert counting.get(cache.key(3, "contract"))[1] == 1
    with pytest.raises(ValueError):
        EncryptedCache(counting, {1: b"n" * 32}, current=2)


def test_two_years_of_load_curve_in_one_round_trip(cache, counting):
    end = date(2026, 11, 25)
    start = end - timedelta(days=730)
    days = {start + timedelta(days=i): [{"start": i, "wh": 250}] * 48 for i in range(730)}
    cache.put_days(5, POINT, "load_curve", days, {d: True for d in days})
    cache.read_range(5, POINT, "load_curve", start, start)  # the Lua script loaded on a Valkey that just started
    counting.round_trips = 0
    result = cache.read_range(5, POINT, "load_curve", start, end)
    assert counting.round_trips == 1
    assert result.days == days
    assert result.missing == [] and result.partial == []


def test_range_reports_missing_partial_and_history_start(cache):
    today = date(2026, 11, 25)
    cache.put_days(5, POINT, "daily_consumption", {
        today - timedelta(days=5): {"wh": 1},
        today - timedelta(days=1): {"wh": 2},  # D-1: partial, shown and fetched again
    }, {today - timedelta(days=5): True, today - timedelta(days=1): False})
    cache.set_history_start(5, POINT, "daily_consumption", today - timedelta(days=6))
    result = cache.read_range(5, POINT, "daily_consumption", today - timedelta(days=10), today)
    assert result.history_start == today - timedelta(days=6)
    assert set(result.days) == {today - timedelta(days=5), today - timedelta(days=1)}
    assert result.partial == [today - timedelta(days=1)]
    # Before the history start nothing is missing; after it, the absent days and the partial one.
    assert result.missing == [today - timedelta(days=n) for n in (6, 4, 3, 2, 1)]


def test_a_day_fetched_again_replaces_itself(cache):
    day = date(2026, 11, 24)
    cache.put_days(5, POINT, "load_curve", {day: [{"wh": 1}] * 20}, {day: False})
    cache.put_days(5, POINT, "load_curve", {day: [{"wh": 1}] * 48}, {day: True})
    result = cache.read_range(5, POINT, "load_curve", day, day + timedelta(days=1))
    assert len(result.days[day]) == 48 and result.missing == []


def test_short_master_key_is_refused(counting):
    with pytest.raises(ValueError):
        EncryptedCache(counting, b"short")


def test_each_write_of_a_series_bumps_its_version_and_only_its_own(valkey):
    from models.keys import readings_version_key

    cache = EncryptedCache(valkey, b"k" * 32)
    assert cache.readings_version(41, "load_curve") == 0
    cache.put_days(5, 41, "load_curve", {date(2026, 1, 1): [], date(2026, 1, 2): []})
    cache.put_days(5, 41, "load_curve", {date(2026, 1, 3): []})
    cache.put_days(5, 41, "daily_consumption", {date(2026, 1, 3): {"value": 1}})
    cache.put_days(5, 42, "load_curve", {})  # nothing written: no new version
    assert (cache.readings_version(41, "load_curve"), cache.readings_version(41, "daily_consumption"),
            cache.readings_version(42, "load_curve")) == (2, 1, 0)
    assert valkey.hgetall(readings_version_key(41)) == {b"load_curve": b"2", b"daily_consumption": b"1"}
