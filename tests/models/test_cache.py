"""The encrypted cache on a real Valkey: sealing, binding, ranges in one round trip, forgetting."""

import logging
import os
from datetime import date, timedelta

import pytest
import redis

from models.cache import EncryptedCache

PDL = "22516914714270"


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
    cache.put(7, "contract", {"subscribed_power": "9 kVA"}, pdl=PDL)
    assert cache.get(7, "contract", pdl=PDL) == {"subscribed_power": "9 kVA"}
    key = cache.key(7, "contract", PDL)
    assert 0 < valkey.ttl(key) <= 600
    assert PDL not in key  # the keyspace does not reveal meter numbers
    assert b"9 kVA" not in valkey.get(key)  # sealed, not plain JSON


def test_entry_copied_under_another_user_does_not_decrypt(cache, valkey, caplog):
    cache.put(7, "contract", {"owner": "alice"}, pdl=PDL)
    stolen = valkey.get(cache.key(7, "contract", PDL))
    valkey.set(cache.key(8, "contract", PDL), stolen)
    with caplog.at_level(logging.WARNING, logger="models.cache"):
        assert cache.get(8, "contract", pdl=PDL) is None
    assert "failed authentication for user 8" in caplog.text
    assert cache.get(7, "contract", pdl=PDL) == {"owner": "alice"}


def test_entry_moved_to_another_key_or_tampered_is_a_miss(cache, valkey):
    cache.put(7, "contract", {"a": 1}, pdl=PDL)
    blob = valkey.get(cache.key(7, "contract", PDL))
    valkey.set(cache.key(7, "address", PDL), blob)
    assert cache.get(7, "address", pdl=PDL) is None
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    valkey.set(cache.key(7, "contract", PDL), flipped)
    assert cache.get(7, "contract", pdl=PDL) is None
    valkey.set(cache.key(7, "contract", PDL), b"\x09garbage")
    assert cache.get(7, "contract", pdl=PDL) is None


def test_another_master_key_cannot_read(counting):
    EncryptedCache(counting, b"k" * 32).put(1, "x", 1)
    other = EncryptedCache(counting, b"z" * 32)
    assert other.get(1, "x") is None


def test_rotation_keeps_old_entries_readable(counting):
    old, new = b"o" * 32, b"n" * 32
    EncryptedCache(counting, {1: old}).put(3, "contract", {"v": 1}, pdl=PDL)
    rotated = EncryptedCache(counting, {2: new, 1: old})
    assert rotated.get(3, "contract", pdl=PDL) == {"v": 1}
    rotated.put(3, "address", {"v": 2}, pdl=PDL)
    assert rotated.get(3, "address", pdl=PDL) == {"v": 2}
    assert counting.get(rotated.key(3, "address", PDL))[1] == 2  # sealed under the new key version
    assert EncryptedCache(counting, {1: old}).get(3, "address", pdl=PDL) is None  # unknown version: a miss


def test_two_years_of_load_curve_in_one_round_trip(cache, counting):
    end = date(2026, 11, 25)
    start = end - timedelta(days=730)
    days = {start + timedelta(days=i): [{"start": i, "wh": 250}] * 48 for i in range(730)}
    cache.put_days(5, PDL, "load_curve", days, {d: True for d in days})
    counting.round_trips = 0
    result = cache.read_range(5, PDL, "load_curve", start, end)
    assert counting.round_trips == 1
    assert result.days == days
    assert result.missing == [] and result.partial == []


def test_range_reports_missing_partial_and_history_start(cache):
    today = date(2026, 11, 25)
    cache.put_days(5, PDL, "daily_consumption", {
        today - timedelta(days=5): {"wh": 1},
        today - timedelta(days=1): {"wh": 2},  # D-1: partial, shown and fetched again
    }, {today - timedelta(days=5): True, today - timedelta(days=1): False})
    cache.set_history_start(5, PDL, "daily_consumption", today - timedelta(days=6))
    result = cache.read_range(5, PDL, "daily_consumption", today - timedelta(days=10), today)
    assert result.history_start == today - timedelta(days=6)
    assert set(result.days) == {today - timedelta(days=5), today - timedelta(days=1)}
    assert result.partial == [today - timedelta(days=1)]
    # Before the history start nothing is missing; after it, the absent days and the partial one.
    assert result.missing == [today - timedelta(days=n) for n in (6, 4, 3, 2, 1)]


def test_a_day_fetched_again_replaces_itself(cache):
    day = date(2026, 11, 24)
    cache.put_days(5, PDL, "load_curve", {day: [{"wh": 1}] * 20}, {day: False})
    cache.put_days(5, PDL, "load_curve", {day: [{"wh": 1}] * 48}, {day: True})
    result = cache.read_range(5, PDL, "load_curve", day, day + timedelta(days=1))
    assert len(result.days[day]) == 48 and result.missing == []


def test_delete_point_and_user(cache):
    other = "11453290002823"
    cache.put(5, "contract", {"a": 1}, pdl=PDL)
    cache.put_days(5, PDL, "daily_consumption", {date(2026, 1, 1): 1})
    cache.put(5, "contract", {"b": 2}, pdl=other)
    cache.put(6, "contract", {"c": 3}, pdl=PDL)
    assert cache.delete_point(5, PDL) == 2
    assert cache.get(5, "contract", pdl=PDL) is None
    assert cache.get(5, "contract", pdl=other) == {"b": 2}
    assert cache.delete_user(5) == 1
    assert cache.get(5, "contract", pdl=other) is None
    assert cache.get(6, "contract", pdl=PDL) == {"c": 3}  # another user's copy is untouched


def test_short_master_key_is_refused(counting):
    with pytest.raises(ValueError):
        EncryptedCache(counting, b"short")
