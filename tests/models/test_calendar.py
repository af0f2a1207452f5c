"""Paris time: publication, day lengths, Tempo days and seasons (DST days included)."""

from datetime import UTC, date, datetime, time

import pytest

from models.calendar import (
    PARIS, day_minutes, last_published_day, month_end, same_day_last_year, tempo_day, tempo_season_start,
    today_paris,
)


def test_last_published_day_follows_the_08_00_publication():
    assert last_published_day(datetime(2025, 3, 14, 7, 59, tzinfo=PARIS)) == date(2025, 3, 12)
    assert last_published_day(datetime(2025, 3, 14, 8, 0, tzinfo=PARIS)) == date(2025, 3, 13)
    # A UTC moment counts by the Paris clock: 07:30 UTC in summer is 09:30 Paris.
    assert last_published_day(datetime(2026, 7, 1, 7, 30, tzinfo=UTC)) == date(2026, 6, 30)


def test_today_is_the_paris_day():
    assert today_paris(datetime(2026, 3, 28, 23, 30, tzinfo=UTC)) == date(2026, 3, 29)
    assert today_paris(datetime(2026, 3, 29, 21, 59, tzinfo=UTC)) == date(2026, 3, 29)


@pytest.mark.parametrize("day, minutes", [(date(2026, 3, 29), 1380), (date(2026, 10, 25), 1500),
                                          (date(2026, 11, 24), 1440)])
def test_day_minutes(day, minutes):
    assert day_minutes(day) == minutes


@pytest.mark.parametrize("year, month, last", [(2024, 2, date(2024, 2, 29)), (2025, 2, date(2025, 2, 28)),
                                               (2025, 12, date(2025, 12, 31)), (2026, 4, date(2026, 4, 30))])
def test_month_end(year, month, last):
    assert month_end(year, month) == last


def test_same_day_last_year():
    assert same_day_last_year(date(2025, 3, 13)) == date(2024, 3, 13)
    assert same_day_last_year(date(2024, 2, 29)) == date(2023, 2, 28)


def test_a_tempo_day_runs_from_06_00_to_06_00():
    assert tempo_day(datetime(2026, 1, 15, 5, 59, tzinfo=PARIS)) == date(2026, 1, 14)
    assert tempo_day(datetime(2026, 1, 15, 6, 0, tzinfo=PARIS)) == date(2026, 1, 15)
    # On the spring-forward night, 06:00 Paris is 04:00 UTC.
    assert tempo_day(datetime(2026, 3, 29, 3, 59, tzinfo=UTC)) == date(2026, 3, 28)
    assert tempo_day(datetime(2026, 3, 29, 4, 0, tzinfo=UTC)) == date(2026, 3, 29)
    assert tempo_day(datetime.combine(date(2026, 10, 25), time(5, 59), PARIS)) == date(2026, 10, 24)


def test_the_tempo_season_starts_on_1_september():
    assert tempo_season_start(date(2025, 3, 14)) == date(2024, 9, 1)
    assert tempo_season_start(date(2025, 8, 31)) == date(2024, 9, 1)
    assert tempo_season_start(date(2025, 9, 1)) == date(2025, 9, 1)
