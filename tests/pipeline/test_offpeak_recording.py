"""The pipeline keeps each meter's off-peak hours over time: onboarding records the contract's, and the
daily refresh, once the cached contract has expired, records a change Enedis made (sandbox over HTTP)."""

from datetime import date

import pytest
import requests

from models.calendar import today_paris
from models.db import session_scope
from models.keys import CONTRACT
from models.offpeak_history import OffPeakSchedule, offpeak_history, offpeak_on
from pipeline import tasks
from pipeline.services import services

PRM = "12345678901234"  # sandbox customer 3: "HC (1H30-8H00;12H30-14H00)"


@pytest.fixture(scope="module")
def sandbox_config():
    return {"REGISTER_ALL": True}


@pytest.fixture
def upstream(sandbox, celery_app, settings, accounts, valkey):
    """The sandbox over HTTP, tasks bound to it, and a committed consumption point (deleted afterwards)."""
    (point,) = accounts.points([PRM], kind="consumption")
    sandbox.user_id, sandbox.point_id = point.user_id, point.id
    sandbox.run = lambda name: celery_app.tasks[name].apply(kwargs={"point_id": point.id}).get()
    sandbox.cache = services(settings).cache
    return sandbox


def history(database_url, point_id):
    with session_scope(database_url) as session:
        return offpeak_history(session, point_id)


def contract_calls(sandbox) -> int:
    return len([c for c in sandbox.state.calls_since(0) if c.path.endswith("/contracts") and c.status == 200])


def test_onboarding_records_the_contracts_offpeak_hours(upstream, database_url):
    assert upstream.run(tasks.ONBOARD)["status"] == "ok"
    (schedule,) = history(database_url, upstream.point_id)
    assert schedule.valid_from == today_paris() and schedule.source_text == "HC (1H30-8H00;12H30-14H00)"
    assert [r.label() for r in schedule.ranges] == ["1h30–8h00", "12h30–14h00"]  # both ranges, minutes kept


def test_a_change_at_enedis_adds_a_row_once_the_cached_contract_expires(upstream, database_url):
    with session_scope(database_url) as session:  # what an earlier day's onboarding recorded
        session.add(OffPeakSchedule(point_id=upstream.point_id, valid_from=date(2025, 3, 10), ranges=[90, 480, 750, 840],
                                    source_text="HC (1H30-8H00;12H30-14H00)"))
    answer = requests.post(f"{upstream.url}/_sandbox/contracts", timeout=10,
                           json={"prm": PRM, "offpeak_hours": "HC (2H00-7H00;13H00-16H00)"})  # the 2025 HC reform
    assert answer.status_code == 201

    assert upstream.run(tasks.REFRESH_POINT)["contract"] == {"status": "ok"}  # nothing cached: fetched
    old, new = history(database_url, upstream.point_id)
    assert (old.valid_from, old.valid_to) == (date(2025, 3, 10), today_paris())
    assert new.valid_from == today_paris() and [r.label() for r in new.ranges] == ["2h00–7h00", "13h00–16h00"]
    with session_scope(database_url) as session:
        assert [r.label() for r in offpeak_on(session, upstream.point_id, date(2025, 6, 1)).ranges] == [
            "1h30–8h00", "12h30–14h00"]  # a 2025 day keeps the 2025 schedule

    calls = contract_calls(upstream)
    assert upstream.run(tasks.REFRESH_POINT)["contract"] == {"status": "cached"}  # fresh in the cache: not asked
    assert contract_calls(upstream) == calls and len(history(database_url, upstream.point_id)) == 2
    upstream.cache.delete(upstream.user_id, CONTRACT, point=upstream.point_id)  # the entry expires
    assert upstream.run(tasks.REFRESH_POINT)["contract"] == {"status": "ok"}
    assert contract_calls(upstream) == calls + 1 and len(history(database_url, upstream.point_id)) == 2  # same hours


def test_the_point_goes_single_rate(upstream, database_url):
    requests.post(f"{upstream.url}/_sandbox/contracts", json={"prm": PRM, "offpeak_hours": None}, timeout=10)
    upstream.run(tasks.REFRESH_POINT)
    (schedule,) = history(database_url, upstream.point_id)
    assert schedule.ranges == () and schedule.source_text is None
    with session_scope(database_url) as session:
        assert session.get(OffPeakSchedule, (upstream.point_id, today_paris())).ranges == []
