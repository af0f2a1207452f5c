"""What the pages read and ask for: the caller's own points, the cache, interactive fetches.

Every page and JSON endpoint goes through `own_point()` / `own_points()`: a PDL that is
not the current user's answers 404, exactly like a PDL that does not exist, so nobody
learns which meters other accounts hold. The web app never calls upstream itself: when a
day is missing it enqueues an interactive fetch and the page says it is on its way.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from functools import lru_cache

from flask import abort
from kombu.exceptions import KombuError
from redis import RedisError
from flask_login import current_user
from sqlalchemy import select

from models.cache import EncryptedCache
from models.pdl import is_pdl
from models.series import SERIES
from models.settings import Settings
from models.usage_points import UsagePoint
from models.valkey import get_client
from pipeline.ratelimit import INTERACTIVE_BUDGET, spend_interactive  # noqa: F401 - the budget, read by tests
from pipeline.api import request_windows
from pipeline.series import windows_for_days
from webapp.db import db
from webapp.extensions import celery, settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _cache(s: Settings, pid: int) -> EncryptedCache:
    return EncryptedCache.from_settings(get_client(s.valkey_url), s)


def cache() -> EncryptedCache:
    """This process's cache: reads entries sealed under the current or a previous master key."""
    return _cache(settings(), os.getpid())


def own_points() -> list[UsagePoint]:
    """The current user's points, by name then PDL."""
    return list(db().scalars(select(UsagePoint).where(UsagePoint.user_id == current_user.id)
                             .order_by(UsagePoint.name, UsagePoint.pdl)))


def own_point(pdl: str) -> UsagePoint:
    """The current user's point with this PDL, or 404 (never 403: ownership is not revealed)."""
    if not is_pdl(pdl):
        abort(404)
    point = db().scalar(select(UsagePoint).where(UsagePoint.pdl == pdl, UsagePoint.user_id == current_user.id))
    if point is None:
        abort(404)
    return point


def _within_budget(user_id: int) -> bool:
    """A person's page views may ask for INTERACTIVE_BUDGET windows per 5 minutes (`pipeline.ratelimit`),
    which the simulator's fetches share."""
    return spend_interactive(get_client(settings().valkey_url), user_id)


def request_days(point: UsagePoint, series: str, missing: list[date]) -> bool:
    """Enqueue an interactive fetch of the missing days (deduplicated); True when one was sent."""
    if not missing or point.status != "active":
        return False
    try:
        # Only the runs of missing days: a day missing a year ago and one missing yesterday are two windows.
        return request_windows(celery(), get_client(settings().valkey_url), point, series,
                               windows_for_days(SERIES[series], missing), session=db())[0]
    except (RedisError, KombuError) as exc:  # the page still shows what is cached
        log.warning("could not enqueue a fetch for point %s: %s", point.id, exc)
    return False
