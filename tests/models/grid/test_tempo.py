"""Tempo seasons and quotas."""

from datetime import date

from models.grid.tempo import QUOTAS, count_season, season, season_quotas


def test_season_bounds():
    assert season(date(2025, 3, 14)) == (date(2024, 9, 1), date(2025, 8, 31))
    assert season(date(2025, 9, 1)) == (date(2025, 9, 1), date(2026, 8, 31))


def test_blue_days_are_what_red_and_white_leave():
    assert season_quotas(*season(date(2025, 3, 14))) == {"RED": 22, "WHITE": 43, "BLUE": 300}
    assert season_quotas(*season(date(2024, 3, 14)))["BLUE"] == 301  # 29 February 2024
    assert sum(QUOTAS.values()) == 65


def test_counting_a_season_never_goes_below_zero():
    first, last = season(date(2025, 3, 14))
    count = count_season(first, last, ["RED"] * 23 + ["WHITE"] * 3 + ["BLUE"] * 100)
    assert count.used == {"RED": 23, "WHITE": 3, "BLUE": 100}
    assert count.remaining == {"RED": 0, "WHITE": 40, "BLUE": 200}
    assert list(count.quotas) == ["RED", "WHITE", "BLUE"]  # the page lists them in this order
