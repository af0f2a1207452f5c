"""The time as the pages see it: read in one place, so tests fix it in one place.

The rules (Paris time, when Enedis publishes) are `models.calendar`'s.
"""

from __future__ import annotations

from datetime import date, datetime

from models import calendar


def now_paris() -> datetime:
    return calendar.now_paris()


def last_published_day() -> date:
    """The newest day Enedis should serve now (`models.calendar.last_published_day`)."""
    return calendar.last_published_day(now_paris())
