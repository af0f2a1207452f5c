"""Backfill progress survives onboarding running twice (acks_late redelivery after a lost worker)."""

from datetime import date

from pipeline.tasks import ONBOARD
from pipeline.tasks.enedis import _count_done, read_progress, start_backfill


def test_a_second_onboarding_keeps_the_count_and_enqueues_nothing_twice(celery_app, valkey, settings):
    onboard = celery_app.tasks[ONBOARD]
    plan = [("daily_consumption", date(2025, 11, 25), date(2026, 11, 25)),
            ("daily_consumption", date(2024, 11, 25), date(2025, 11, 25)),
            ("max_power", date(2025, 11, 25), date(2026, 11, 25))]
    start_backfill(onboard, 77, plan)
    assert read_progress(settings.valkey_url, 77) == {"total": 3, "done": 0}
    assert valkey.llen("backfill") == 3
    _count_done(onboard, 77, "daily_consumption:2025-11-25:2026-11-25")
    _count_done(onboard, 77, "daily_consumption:2025-11-25:2026-11-25")  # the same window twice counts once
    _count_done(onboard, 77, "max_power:2025-11-25:2026-11-25")
    start_backfill(onboard, 77, plan)  # redelivered onboarding
    assert read_progress(settings.valkey_url, 77) == {"total": 3, "done": 2}
    assert valkey.llen("backfill") == 3
