"""Bench case: the encrypted cache's day format (`--only cache`).

1. A two-year load-curve range read (730 days, 48 intervals a day), measured side by side in one
   run: `EncryptedCache.read_range` without the TTL renewal (one MGET) and with it (one Lua
   script: GETEX of every day and the point marked used), then every interval decoded (the Wh of
   the two years summed), against a raw MGET of the same keys; for the compact format (2) and for
   the JSON format (1) the previous release wrote, which is still read.
2. The sealed size of a 30-minute load-curve day in each format.
3. Valkey memory of a meter with its full history (36 months of daily energy and daily maximum
   power, 24 months of half-hours, its contract, address and history bounds), by `MEMORY USAGE`
   summed over its keys, in each format.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import redis

from models.cache import EncryptedCache
from models.calendar import PARIS, day_minutes
from models.daypack import energy_wh
from models.keys import cache_pattern, day_entry, day_keys, history_start_entry

USER, POINT = 1, 1


def curve_day(day: date, rnd: random.Random, minutes: int = 30) -> list[dict]:
    """A made-up but plausible day of load curve, as the pipeline caches it."""
    base = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
    out = []
    for k in range(day_minutes(day) // minutes):
        local = (base + timedelta(minutes=minutes * k)).astimezone(PARIS)
        watts = rnd.randrange(150, 600) + (1800 if 18 <= local.hour < 22 else 0)
        out.append({"start": local.isoformat(), "minutes": minutes, "watts": watts, "wh": energy_wh(watts, minutes)})
    return out


def put_json_days(cache: EncryptedCache, user_id: int, point: int, series: str, days: dict) -> None:
    """Days as the previous release wrote them (format 1: a JSON record `{"v", "f"}` each)."""
    pipe = cache.client.pipeline(transaction=False)
    for (day, value), key in zip(days.items(), day_keys(user_id, point, series, days)):
        pipe.set(key, cache.seal(user_id, key, {"v": value, "f": True}), ex=cache.ttl)
    pipe.execute()


def full_history(today: date, rnd: random.Random) -> dict[str, dict]:
    def span(months: int) -> list[date]:
        first = today - timedelta(days=round(months * 30.44) + 15)
        return [first + timedelta(days=i) for i in range((today - first).days)]

    daily = {d: {"day": d.isoformat(), "value": rnd.randrange(4000, 30000)} for d in span(36)}
    peaks = {}
    for d in span(36):
        at = datetime(d.year, d.month, d.day, 19, rnd.randrange(60), tzinfo=PARIS)
        peaks[d] = {"day": d.isoformat(), "va": rnd.randrange(1000, 9000), "at": at.isoformat()}
    curve = {d: curve_day(d, rnd) for d in span(24)}
    return {"daily_consumption": daily, "max_power": peaks, "load_curve": curve}


def meter_memory(client: redis.Redis, cache: EncryptedCache, today: date, compact: bool) -> tuple[int, int, dict]:
    """(bytes, keys, {series: (bytes, keys)}) of one meter's full history in Valkey."""
    rnd = random.Random(7)
    client.flushdb()
    for series, days in full_history(today, rnd).items():
        if compact:
            cache.put_days(USER, POINT, series, days)
        else:
            put_json_days(cache, USER, POINT, series, days)
        cache.set_history_start(USER, POINT, series, min(days))
    cache.put(USER, "contract", {"subscribed_power_kva": 9, "subscribed_power": "9 kVA",
                                 "offpeak_hours": "HC (22H00-6H00)", "segment": "C5",
                                 "distribution_tariff": "BTINFCUST", "contract_status": "SERVC",
                                 "last_activation_date": "2015-01-01"}, point=POINT)
    cache.put(USER, "address", {"street": "1 rue de la Paix", "postal_code": "75001", "city": "Paris"}, point=POINT)
    keys = list(client.scan_iter(match=cache_pattern(USER, POINT), count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    sizes = pipe.execute()
    by_series: dict[str, list[int]] = {}
    for key, size in zip(keys, sizes):
        series = key.decode().split(":")[4]
        by_series.setdefault(series, [0, 0])
        by_series[series][0] += size
        by_series[series][1] += 1
    return sum(sizes), len(keys), by_series


def _median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def _total_wh(read) -> int:
    total = 0
    for value in read.days.values():
        if hasattr(value, "total_wh"):
            total += value.total_wh()
        else:
            total += sum(p["wh"] for p in value)
    return total


def run(valkey_url: str, repeat: int) -> None:
    client = redis.Redis.from_url(valkey_url)
    cache = EncryptedCache(client, os.urandom(32), ttl_seconds=86400)
    end = date(2026, 11, 25)
    first = end - timedelta(days=730)
    rnd = random.Random(1)
    days = {first + timedelta(days=i): curve_day(first + timedelta(days=i), rnd) for i in range(730)}
    keys = day_keys(USER, POINT, "load_curve", days)
    one = cache.key(USER, day_entry("load_curve", date(2026, 11, 24)), POINT)
    print(f"two-year load-curve range read (730 days, 48 intervals a day), median of {repeat}:")
    sizes = {}
    for label, compact in (("format 2 (compact)", True), ("format 1 (JSON, previous release)", False)):
        client.flushdb()
        if compact:
            cache.put_days(USER, POINT, "load_curve", days)
        else:
            put_json_days(cache, USER, POINT, "load_curve", days)
        client.delete(cache.key(USER, history_start_entry("load_curve"), POINT))
        sizes[label] = len(client.get(one))
        sealed = sum(len(b) for b in client.mget(keys))
        raw = _median_ms(lambda: client.mget(keys), repeat)
        plain = _median_ms(lambda: cache.read_range(USER, POINT, "load_curve", first, end, renew=False), repeat)
        renewed = _median_ms(lambda: cache.read_range(USER, POINT, "load_curve", first, end), repeat)
        decoded = _median_ms(lambda: _total_wh(cache.read_range(USER, POINT, "load_curve", first, end)), repeat)
        print(f"  {label}: {sealed / 1e6:.3f} MB sealed")
        print(f"    raw MGET of the same keys:                       {raw:6.2f} ms")
        print(f"    read_range, no renewal (1 MGET, decrypt, decode): {plain:6.2f} ms  (x{plain / raw:.2f} the raw MGET)")
        print(f"    read_range with TTL renewal + used mark (1 EVALSHA): {renewed:6.2f} ms  (x{renewed / raw:.2f})")
        print(f"    ... and every interval's Wh summed:              {decoded:6.2f} ms  (x{decoded / raw:.2f})")
    for label, size in sizes.items():
        print(f"sealed 30-minute load-curve day, {label}: {size} bytes")
    today = date(2026, 11, 25)
    print("Valkey memory of one meter with its full history (MEMORY USAGE summed over its keys):")
    for label, compact in (("format 2 (compact)", True), ("format 1 (JSON)", False)):
        used, count, by_series = meter_memory(client, cache, today, compact)
        print(f"  {label}: {used / 1e6:.2f} MB in {count} keys ({used / count:.0f} bytes a key); by series: "
              + ", ".join(f"{name} {size / n:.0f} B x {n}" for name, (size, n) in sorted(by_series.items())))
        if compact:
            # What a used meter keeps when its owner only opens the consumption page (meter_data reads daily
            # energy since January 1st of last year, 30 days of maximum power, a day of curve, the contract).
            page = (by_series["daily_consumption"][0] / by_series["daily_consumption"][1] * (365 + today.timetuple().tm_yday)
                    + by_series["max_power"][0] / by_series["max_power"][1] * 30
                    + by_series["load_curve"][0] / by_series["load_curve"][1] * 1
                    + sum(size for name, (size, n) in by_series.items() if n < 10))
            print(f"    of which what the consumption page reads (and so keeps alive): {page / 1e3:.0f} KB")
    client.flushdb()
