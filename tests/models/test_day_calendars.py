"""Day calendars: Tempo, EJP, Sobriété and public holidays per day, unknown days said unknown."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from models.day_calendars import (
    CalendarError, DayInfo, SpecialDay, day_calendar, load_calendar_files, over_quota, public_holiday, set_coverage,
    set_days, special_days, unset_days,
)
from models.tempo import TempoDay


def add_colours(session, colours: dict[date, str]) -> None:
    now = datetime.now(UTC)
    session.add_all(TempoDay(day=d, colour=c, updated_at=now, fetched_at=now) for d, c in colours.items())
    session.flush()


def test_known_and_unknown_days(session):
    add_colours(session, {date(2026, 1, 12): "RED", date(2026, 1, 13): "WHITE"})
    set_days(session, "ejp", [date(2026, 1, 12)], "test")
    set_coverage(session, "ejp", date(2025, 11, 1), date(2026, 1, 31), "test")
    days = day_calendar(session, date(2026, 1, 11), date(2026, 1, 15))
    assert list(days) == [date(2026, 1, 11), date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14)]
    assert days[date(2026, 1, 12)] == DayInfo(date(2026, 1, 12), "RED", True, None, None)
    assert days[date(2026, 1, 13)] == DayInfo(date(2026, 1, 13), "WHITE", False, None, None)  # covered, not listed
    assert days[date(2026, 1, 14)].tempo is None  # RTE has not said: unknown, never guessed blue
    assert days[date(2026, 1, 14)].unknown == ("tempo", "sobriete")
    assert days[date(2026, 1, 11)].is_weekend


def test_ejp_days_outside_the_winter_are_known_not_to_be(session):
    days = day_calendar(session, date(2026, 3, 31), date(2026, 4, 2))
    assert days[date(2026, 3, 31)].ejp is None  # a winter day nobody listed or covered
    assert days[date(2026, 4, 1)].ejp is False  # EJP days fall 1 November – 31 March only
    assert days[date(2026, 4, 1)].sobriete is None  # no such rule known for Sobriété days


def test_public_holidays_for_any_year():
    assert public_holiday(date(2026, 5, 1)) == "Fête du Travail"
    assert public_holiday(date(2025, 7, 14)) == "Fête nationale"
    assert public_holiday(date(2024, 4, 1)) == "Lundi de Pâques"
    assert public_holiday(date(2026, 5, 2)) is None


def test_holidays_in_the_range(session):
    days = day_calendar(session, date(2025, 12, 24), date(2026, 1, 2))
    assert [d for d, info in days.items() if info.is_holiday] == [date(2025, 12, 25), date(2026, 1, 1)]


def test_setting_and_unsetting_days(session):
    assert set_days(session, "sobriete", [date(2026, 2, 3), date(2026, 2, 4)], "EDF") == [date(2026, 2, 3),
                                                                                          date(2026, 2, 4)]
    assert set_days(session, "sobriete", [date(2026, 2, 3)]) == []  # already there
    assert unset_days(session, "sobriete", [date(2026, 2, 3), date(2026, 2, 9)]) == [date(2026, 2, 3)]
    assert special_days(session, "sobriete") == [date(2026, 2, 4)]
    assert day_calendar(session, date(2026, 2, 4), date(2026, 2, 5))[date(2026, 2, 4)].sobriete is True


def test_an_ejp_day_in_summer_is_refused_by_the_rules_and_the_database(session):
    with pytest.raises(CalendarError, match="1 November and 31 March"):
        set_days(session, "ejp", [date(2026, 7, 1)])
    with pytest.raises(CalendarError, match="unknown calendar"):
        set_days(session, "tempo", [date(2026, 1, 5)])
    session.add(SpecialDay(kind="ejp", day=date(2026, 7, 1)))
    with pytest.raises(IntegrityError, match="ck_special_days_ejp_in_winter"):
        session.flush()


def test_a_season_over_its_quota_is_reported(session):
    first = date(2025, 11, 3)
    days = [first + timedelta(days=i) for i in range(23)]  # 23 days: one more than EJP allows
    set_days(session, "ejp", days, "test")
    assert over_quota(session, "ejp", days) == {date(2025, 9, 1): 23}
    unset_days(session, "ejp", days[:1])
    assert over_quota(session, "ejp", days) == {}


def test_coverage_from_files_only_widens(session, tmp_path):
    set_coverage(session, "sobriete", date(2025, 11, 1), date(2026, 3, 31), "admin")
    (tmp_path / "sobriete.json").write_text(json.dumps({
        "kind": "sobriete", "source": "file", "known": [{"from": "2025-10-01", "through": "2025-12-31"}],
        "days": [{"day": "2025-12-02"}, {"day": "2026-01-07", "source": "EDF, 6 janvier"}]}))
    report = load_calendar_files(session, tmp_path)
    assert report.added == {"sobriete": [date(2025, 12, 2), date(2026, 1, 7)]}
    assert report.coverage == {"sobriete": (date(2025, 10, 1), date(2026, 3, 31))}  # widened, not shrunk
    again = load_calendar_files(session, tmp_path)
    assert again.added == {"sobriete": []} and again.coverage == report.coverage


def test_the_shipped_calendar_files_invent_no_day(session):
    report = load_calendar_files(session)
    assert set(report.added) == {"ejp", "sobriete"}
    assert special_days(session, "ejp") == [] and special_days(session, "sobriete") == []


def test_a_range_has_bounds(session):
    assert day_calendar(session, date(2026, 1, 2), date(2026, 1, 1)) == {}
    with pytest.raises(CalendarError):
        day_calendar(session, date(2000, 1, 1), date(2026, 1, 1))
