"""The compact day format (cache format 2) on a real Valkey: what goes in comes out, in ~130 bytes a day;
days of the previous (JSON) format are still read; a tampered entry is a miss; reading renews and marks
the point used."""

import logging
import os
from datetime import UTC, date, datetime, timedelta

import pytest

from models import daypack
from models.cache import DAY_FORMAT, FORMAT, EncryptedCache
from models.calendar import PARIS, day_minutes
from models.keys import USED_KEY, day_entry, forget_point

POINT = 41
USER = 5


def curve(day: date, minutes: int = 30, first_watts: int = 300) -> list[dict]:
    """A whole day of load curve as the pipeline caches it (`to_json` of `LoadPoint`s)."""
    base = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
    points = []
    for k in range(day_minutes(day) // minutes):
        watts = first_watts + 37 * k  # odd values: the energy is rounded as the pipeline rounds it
        points.append({"start": (base + timedelta(minutes=minutes * k)).astimezone(PARIS).isoformat(),
                       "minutes": minutes, "watts": watts, "wh": daypack.energy_wh(watts, minutes)})
    return points


@pytest.fixture
def cache(valkey):
    return EncryptedCache(valkey, os.urandom(32), ttl_seconds=600)


def stored(valkey, cache, day: date, series: str = "load_curve") -> bytes:
    return valkey.get(cache.key(USER, day_entry(series, day), POINT))


def read_one(cache, day: date, series: str = "load_curve", renew: bool = False):
    return cache.read_range(USER, POINT, series, day, day + timedelta(days=1), renew=renew)


@pytest.mark.parametrize("day, intervals", [(date(2026, 11, 24), 48), (date(2026, 3, 29), 46),
                                            (date(2026, 10, 25), 50)])
def test_a_load_curve_day_round_trips_compact_whatever_its_length(cache, valkey, day, intervals):
    points = curve(day)
    assert len(points) == intervals
    cache.put_days(USER, POINT, "load_curve", {day: points}, {day: True})
    blob = stored(valkey, cache, day)
    assert blob[0] == DAY_FORMAT
    assert len(blob) < 300  # format byte, key version, nonce, 2 × 4 + 2 × intervals bytes, tag
    result = read_one(cache, day)
    assert result.days[day] == points  # the same dicts, times and offsets included
    assert result.days[day].to_json() == points
    assert result.missing == [] and result.partial == []
    assert result.days[day].total_wh() == sum(p["wh"] for p in points)


def test_gaps_and_a_change_of_interval_length_are_kept(cache, valkey):
    day = date(2026, 10, 25)  # 25 hours
    hourly, halves = curve(day, 60), curve(day, 30, first_watts=900)
    points = hourly[:3] + hourly[5:8] + [p for p in halves if p["start"] >= hourly[10]["start"]]
    del points[20:23]  # three half-hours missing in the afternoon
    cache.put_days(USER, POINT, "load_curve", {day: points}, {day: False})
    assert len(stored(valkey, cache, day)) < 300
    result = read_one(cache, day)
    assert isinstance(result.days[day], daypack.CurveDay)  # compact, not the JSON fallback
    assert result.days[day] == points
    assert [m for _, m, _ in result.days[day].segments] == [60, 30]
    assert result.partial == [day] and result.missing == [day]  # not final: shown, and fetched again


def test_daily_values_maxima_and_known_gaps_are_compact_too(cache, valkey):
    first = date(2026, 10, 24)
    days = [first + timedelta(days=i) for i in range(3)]
    energy = {days[0]: {"day": days[0].isoformat(), "value": 12345}, days[1]: None,
              days[2]: {"day": days[2].isoformat(), "value": 0}}
    peaks = {days[1]: {"day": days[1].isoformat(), "va": 6120,
                       "at": datetime(2026, 10, 25, 2, 30, tzinfo=PARIS).replace(fold=1).isoformat()}}
    cache.put_days(USER, POINT, "daily_consumption", energy)
    cache.put_days(USER, POINT, "max_power", peaks)
    for day in days:
        assert len(stored(valkey, cache, day, "daily_consumption")) <= 2 + 12 + 10 + 16
    assert cache.read_range(USER, POINT, "daily_consumption", first, first + timedelta(days=3)).days == energy
    assert read_one(cache, days[1], "max_power").days == peaks  # the repeated hour of the DST night too


def test_what_the_compact_form_cannot_hold_exactly_is_kept_as_json(cache, valkey):
    day = date(2026, 11, 24)
    odd = curve(day)[:4]
    odd[1] = dict(odd[1], wh=odd[1]["wh"] + 1)  # an energy not computed from the power
    negative = [dict(p, watts=-p["watts"], wh=daypack.energy_wh(-p["watts"], 30)) for p in curve(day)[:4]]
    shapes = {day: odd, day - timedelta(days=1): negative, day - timedelta(days=2): {"value": 1},
              day - timedelta(days=3): {"day": (day - timedelta(days=3)).isoformat(), "value": 1.5}}
    cache.put_days(USER, POINT, "load_curve", shapes)
    result = cache.read_range(USER, POINT, "load_curve", day - timedelta(days=3), day + timedelta(days=1))
    assert result.days == shapes
    assert not any(isinstance(v, daypack.CurveDay) for v in result.days.values())
    assert all(stored(valkey, cache, d)[0] == DAY_FORMAT for d in shapes)  # format 2 holds JSON too


def test_days_of_the_previous_format_are_still_read(cache, valkey):
    day = date(2026, 3, 29)
    points = curve(day)
    for d, value, final in ((day, points, True), (day + timedelta(days=1), {"day": "2026-03-30", "value": 7}, False)):
        key = cache.key(USER, day_entry("load_curve", d), POINT)
        valkey.set(key, cache.seal(USER, key, {"v": value, "f": final}), ex=600)  # as the previous release did
        assert valkey.get(key)[0] == FORMAT
    result = cache.read_range(USER, POINT, "load_curve", day, day + timedelta(days=2))
    assert result.days == {day: points, day + timedelta(days=1): {"day": "2026-03-30", "value": 7}}
    assert result.partial == [day + timedelta(days=1)]


def test_a_tampered_moved_or_relabelled_day_is_a_miss(cache, valkey, caplog):
    day = date(2026, 11, 24)
    cache.put_days(USER, POINT, "load_curve", {day: curve(day)})
    key = cache.key(USER, day_entry("load_curve", day), POINT)
    blob = valkey.get(key)
    variants = {
        "flipped": blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:],
        "relabelled as JSON": bytes([FORMAT]) + blob[1:],  # the format byte is outside the tag
        "unknown format": bytes([9]) + blob[1:],
    }
    for name, forged in variants.items():
        valkey.set(key, forged)
        with caplog.at_level(logging.INFO, logger="models.cache"):
            result = read_one(cache, day)
        assert result.days == {} and result.missing == [day], name
    # Another day's entry copied under this day's key, or another user's: authentication fails.
    cache.put_days(USER, POINT, "load_curve", {day - timedelta(days=1): curve(day - timedelta(days=1))})
    valkey.set(key, stored(valkey, cache, day - timedelta(days=1)))
    assert read_one(cache, day).days == {}
    assert "failed authentication" in caplog.text


def test_an_owners_read_renews_the_days_it_found_and_marks_the_point_used(cache, valkey):
    day = date(2026, 11, 24)
    cache.put_days(USER, POINT, "load_curve", {day: curve(day)})
    key = cache.key(USER, day_entry("load_curve", day), POINT)
    valkey.expire(key, 30)  # as if fetched long ago
    read_one(cache, day, renew=False)  # the pipeline's own read keeps nothing alive
    assert valkey.ttl(key) <= 30 and valkey.zscore(USED_KEY, POINT) is None
    read_one(cache, day, renew=True)
    assert valkey.ttl(key) > 30
    assert valkey.zscore(USED_KEY, POINT) is not None
    assert cache.used_points() == {POINT}
    assert not valkey.exists(cache.key(USER, day_entry("load_curve", day + timedelta(days=1)), POINT))


def test_a_whole_page_is_one_round_trip(valkey):
    calls = []

    class Counting(type(valkey)):
        def execute_command(self, *args, **options):
            calls.append(args[0])
            return super().execute_command(*args, **options)

    client = Counting(connection_pool=valkey.connection_pool)
    cache = EncryptedCache(client, os.urandom(32), ttl_seconds=600)
    day = date(2026, 11, 24)
    cache.put_days(USER, POINT, "load_curve", {day: curve(day)})
    cache.put_days(USER, POINT, "daily_consumption", {day: {"day": day.isoformat(), "value": 5}})
    cache.put(USER, "contract", {"offpeak_hours": "HC (22H00-6H00)"}, point=POINT)
    valkey.expire(cache.key(USER, "contract", POINT), 30)
    calls.clear()
    (energy, load), (contract, absent) = cache.read_ranges(
        USER, [(POINT, "daily_consumption", day - timedelta(days=29), day + timedelta(days=1)),
               (POINT, "load_curve", day, day + timedelta(days=1))], [("contract", POINT), ("address", POINT)])
    assert len(calls) == 1
    assert energy.days == {day: {"day": day.isoformat(), "value": 5}} and len(energy.missing) == 29
    assert load.days[day] == curve(day)
    assert contract == {"offpeak_hours": "HC (22H00-6H00)"} and absent is None
    assert valkey.ttl(cache.key(USER, "contract", POINT)) > 30  # what the owner reads stays, entries too


def test_used_marks_older_than_the_lifetime_are_dropped_and_forgetting_a_point_unmarks_it(cache, valkey):
    now = int(valkey.time()[0])
    valkey.zadd(USED_KEY, {"7": now - 601, "8": now - 10, str(POINT): now})
    assert cache.used_points() == {8, POINT}
    assert valkey.zscore(USED_KEY, "7") is None
    forget_point(valkey, USER, POINT)
    assert cache.used_points() == {8}
