"""The beat schedule across the 2026 daylight-saving days, evaluated with crontab(nowfun=…)."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab

from pipeline.schedules import schedule

PARIS = ZoneInfo("Europe/Paris")


def simulate(celery_app, day_start_utc: datetime, hours: int) -> dict[str, list[datetime]]:
    """Tick beat every minute for `hours`, recording when each crontab entry fires (local time)."""
    clock = {"now": day_start_utc}
    entries = {name: e for name, e in schedule(nowfun=lambda: clock["now"]).items() if isinstance(e["schedule"], crontab)}
    for entry in entries.values():
        entry["schedule"].app = celery_app  # Europe/Paris from the app's configuration
    last = {name: day_start_utc - timedelta(minutes=1) for name in entries}
    fired = {name: [] for name in entries}
    for minute in range(hours * 60):
        clock["now"] = day_start_utc + timedelta(minutes=minute)
        for name, entry in entries.items():
            due, _next = entry["schedule"].is_due(last[name])
            if due:
                last[name] = clock["now"]
                fired[name].append(clock["now"].astimezone(PARIS))
    return fired


@pytest.mark.parametrize("day, length", [("2026-03-29", 23), ("2026-10-25", 25), ("2026-11-24", 24)])
def test_daily_entries_fire_once_per_slot_and_never_in_the_dst_hour(celery_app, day, length):
    midnight = datetime.fromisoformat(day).replace(tzinfo=PARIS).astimezone(UTC)
    fired = simulate(celery_app, midnight, length)
    assert [t.strftime("%H:%M") for t in fired["enedis-refresh"]] == ["08:15", "09:15", "13:15", "17:15", "21:15"]
    assert [t.strftime("%H:%M") for t in fired["rte-tempo-season"]] == ["04:10"]
    tempo = [t.strftime("%H:%M") for t in fired["rte-tempo-tomorrow"]]
    assert tempo[0] == "10:00" and "10:30" in tempo and len(tempo) == 12
    for name in ("enedis-refresh", "rte-tempo-season", "rte-tempo-tomorrow"):
        assert not [t for t in fired[name] if t.hour == 2], name


@pytest.mark.parametrize("day, length", [("2026-03-29", 23), ("2026-10-25", 25)])
def test_frequent_entries_keep_their_pace_across_dst(celery_app, day, length):
    midnight = datetime.fromisoformat(day).replace(tzinfo=PARIS).astimezone(UTC)
    fired = simulate(celery_app, midnight, length)
    # A wall-clock crontab loses the skipped hour in spring and may skip the repeated one in autumn.
    assert len(fired["rte-national-consumption"]) in {4 * 23, 4 * 24}
    per_hour = Counter(t.hour for t in fired["rte-ecowatt"])
    assert all(count <= 4 for count in per_hour.values())  # ≤ 2 per wall-clock hour, 4 when the hour repeats
    gaps = [(b - a).total_seconds() for a, b in zip(fired["rte-ecowatt"], fired["rte-ecowatt"][1:])]
    assert min(gaps) >= 15 * 60  # never closer than EcoWatt's 15-minute limit


def test_every_entry_expires_and_names_a_registered_task(celery_app):
    for name, entry in schedule().items():
        assert entry["task"] in celery_app.tasks, name
        assert 0 < entry["options"]["expires"], name
