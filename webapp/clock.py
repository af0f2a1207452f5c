"""Paris time and the calendar arithmetic the pages share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.tasks.enedis import PUBLISHED_AT_HOUR

PARIS = ZoneInfo("Europe/Paris")


def now_paris() -> datetime:
    return datetime.now(UTC).astimezone(PARIS)


def last_published_day(now: datetime | None = None) -> date:
    """The newest day Enedis should serve by now (D-1 after 08:00, else D-2)."""
    now = (now or now_paris()).astimezone(PARIS)
    return now.date() - timedelta(days=1 if now.hour >= PUBLISHED_AT_HOUR else 2)


def month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
