"""French electricity time: Europe/Paris days, when Enedis publishes, when a Tempo day starts.

Every rule here takes an explicit, timezone-aware "now" where it depends on one, so that
tasks, beat and pages compute their periods the same way (and tests pass a fixed moment).
Daylight-saving days are 23 or 25 hours long: nothing here assumes 24.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

# Enedis publishes day D's readings from about 08:00 Paris on D+1.
PUBLISHED_AT_HOUR = 8
# A Tempo day (its colour, its price) runs from 06:00 to 06:00 the next morning, Paris time.
TEMPO_DAY_STARTS_AT = time(6, 0)
# A Tempo season runs from 1 September to 31 August.
TEMPO_SEASON_FIRST_MONTH = 9


def now_paris() -> datetime:
    return datetime.now(UTC).astimezone(PARIS)


def today_paris(now: datetime | None = None) -> date:
    """The Paris calendar day at `now` (default: now)."""
    return (now or datetime.now(UTC)).astimezone(PARIS).date()


def last_published_day(now: datetime) -> date:
    """The newest day Enedis should serve at `now` (D-1 from 08:00 Paris, else D-2)."""
    local = now.astimezone(PARIS)
    return local.date() - timedelta(days=1 if local.hour >= PUBLISHED_AT_HOUR else 2)


def day_minutes(day: date) -> int:
    """Minutes in a Paris day: 1380, 1440 or 1500 (daylight-saving changes)."""
    # Through UTC: Python subtracts two datetimes of the same tzinfo by wall clock.
    start = datetime.combine(day, time(0), PARIS).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), PARIS).astimezone(UTC)
    return int((end - start).total_seconds() // 60)


def month_end(year: int, month: int) -> date:
    """The last day of a month."""
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def same_day_last_year(day: date) -> date:
    """The same day a year earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return date(day.year - 1, 2, 28)


def tempo_day(now: datetime) -> date:
    """The Tempo day in force at `now`: before 06:00 Paris, it is still yesterday's."""
    local = now.astimezone(PARIS)
    return local.date() - timedelta(days=1) if local.time() < TEMPO_DAY_STARTS_AT else local.date()


def tempo_season_start(day: date) -> date:
    """1 September of the Tempo season holding `day`."""
    return date(day.year if day.month >= TEMPO_SEASON_FIRST_MONTH else day.year - 1, TEMPO_SEASON_FIRST_MONTH, 1)
