"""Off-peak hours per meter over time: a change adds a row, minutes are kept, a day finds its schedule."""

from datetime import date

from sqlalchemy import delete, func, select

import factories
from models.offpeak_history import OffPeakSchedule, offpeak_history, offpeak_on, record_offpeak
from models.usage_points import UsagePoint


def make_point(session):
    return factories.make_point(session, factories.make_user(session), kind="consumption")


def rows(session, point_id) -> int:
    return session.scalar(select(func.count()).select_from(OffPeakSchedule).where(OffPeakSchedule.point_id == point_id))


def test_a_change_of_hours_adds_a_row_and_each_day_finds_its_schedule(session):
    point = make_point(session)
    assert record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 3, 10))
    assert not record_offpeak(session, point.id, "HC (22h00-06h00)", date(2025, 6, 1))  # same hours, other spelling
    assert record_offpeak(session, point.id, "HC (1H30-8H00;12H30-14H00)", date(2025, 11, 20))
    assert rows(session, point.id) == 2

    before, first_day, summer, after = (offpeak_on(session, point.id, d) for d in (
        date(2025, 1, 5), date(2025, 3, 10), date(2025, 8, 1), date(2026, 1, 1)))
    assert [r.label() for r in summer.ranges] == ["22h00–6h00"] and not summer.assumed
    assert summer.valid_from == date(2025, 3, 10) and summer.valid_to == date(2025, 11, 20)
    assert first_day == summer
    assert [r.label() for r in after.ranges] == ["1h30–8h00", "12h30–14h00"]  # both ranges, minutes kept
    assert after.valid_to is None and after.source_text == "HC (1H30-8H00;12H30-14H00)"
    assert before.assumed and before.ranges == summer.ranges  # older than anything seen: the oldest, flagged


def test_a_single_rate_contract_is_a_schedule_without_ranges(session):
    point = make_point(session)
    assert record_offpeak(session, point.id, None, date(2025, 1, 1))
    assert record_offpeak(session, point.id, "HC (23h00-7h30)", date(2025, 9, 1))  # the household moved to HC
    history = offpeak_history(session, point.id)
    assert [(h.valid_from, len(h.ranges)) for h in history] == [(date(2025, 1, 1), 0), (date(2025, 9, 1), 1)]
    assert offpeak_on(session, point.id, date(2025, 5, 1)).ranges == ()


def test_unreadable_hours_are_not_recorded(session):
    point = make_point(session)
    assert not record_offpeak(session, point.id, "HC (n'importe quoi)", date(2025, 1, 1))
    assert rows(session, point.id) == 0 and offpeak_on(session, point.id, date(2025, 1, 1)) is None


def test_a_late_sighting_moves_the_schedule_back_or_inserts_before(session):
    point = make_point(session)
    record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 6, 1))
    assert record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 5, 1))  # seen earlier than we knew
    assert [h.valid_from for h in offpeak_history(session, point.id)] == [date(2025, 5, 1)]
    assert record_offpeak(session, point.id, "HC (23H00-7H00)", date(2025, 2, 1))  # an older, other schedule
    assert [h.valid_from for h in offpeak_history(session, point.id)] == [date(2025, 2, 1), date(2025, 5, 1)]
    assert record_offpeak(session, point.id, "HC (2H00-7H00;13H00-16H00)", date(2025, 5, 1))  # same day, changed
    assert [r.label() for r in offpeak_on(session, point.id, date(2025, 5, 1)).ranges] == ["2h00–7h00", "13h00–16h00"]


def test_the_history_goes_with_the_point(session):
    point = make_point(session)
    record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 3, 10))
    session.execute(delete(UsagePoint).where(UsagePoint.id == point.id))  # a transfer deletes the old point
    assert rows(session, point.id) == 0
    assert not record_offpeak(session, point.id, "HC (22H00-6H00)", date(2025, 3, 11))  # gone: nothing written
