"""`/api/v1`: tokens only, the caller's meters only, JSON errors with stable codes, ranges, the miss, quotas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time

from factories import make_point, make_user
from models.api_clients import ApiClient
from models.cache import EncryptedCache
from models.calendar import PARIS
from models.keys import CONTRACT, SIMULATION
from models.tempo import TempoDay
from pipeline import tasks
from tests_helpers import queued

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=PARIS)  # Enedis has published the 14th
LAST = date(2026, 3, 14)


@pytest.fixture
def settings_env():
    return {"API_QUOTA_PER_MINUTE": "20", "API_UPSTREAM_QUOTA_PER_MINUTE": "2"}


@pytest.fixture
def store(settings, valkey):
    return EncryptedCache.from_settings(valkey, settings)


@pytest.fixture
def holder(session):
    """An account with a consumption meter and an API secret."""
    user = make_user(session)
    point = make_point(session, user, kind="consumption")
    client, secret = ApiClient.issue(user.id, "Home Assistant")
    session.add(client)
    session.flush()
    return user, point, client, {"Authorization": f"Bearer {secret}"}


def days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def put_daily(store, point, first: date, n: int) -> None:
    store.put_days(point.user_id, point.id, "daily_consumption",
                   {d: {"day": d.isoformat(), "value": 1000 + i} for i, d in enumerate(days(first, n))})


def error_code(response) -> str:
    assert response.mimetype == "application/json", response.data[:200]
    return response.get_json()["error"]["code"]


# -- authentication -----------------------------------------------------------------------------------


def test_no_token_a_wrong_one_or_a_session_cookie_is_a_401_in_json(client, holder, signed_in):
    user, point, api_client, headers = holder
    for sent in ({}, {"Authorization": "Bearer nope"}, {"Authorization": headers["Authorization"].split()[1]},
                 {"Authorization": "Basic " + headers["Authorization"].split()[1]}):
        response = client.get("/api/v1/meters", headers=sent)
        assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # A signed-in browser is no API client: the session cookie opens nothing here.
    signed_in()
    assert client.get("/api/v1/meters").status_code == 401
    assert client.get("/api/v1/meters", headers=headers).status_code == 200


def test_a_revoked_secret_or_a_disabled_account_is_refused_at_once(client, holder, session):
    user, point, api_client, headers = holder
    assert client.get("/api/v1/meters", headers=headers).status_code == 200
    user.is_active = False
    session.flush()
    assert client.get("/api/v1/meters", headers=headers).status_code == 401
    user.is_active = True
    api_client.revoked_at = datetime.now(UTC)
    session.flush()
    assert client.get("/api/v1/meters", headers=headers).status_code == 401


def test_what_an_operator_or_the_holder_changes_holds_at_the_next_request(client, holder, session, settings,
                                                                            celery_app):
    """Who a secret is stays in Valkey between requests (models/access.py); the services that change it
    make the next request see the change: a point detached, an account deleted (a bulk DELETE)."""
    from pipeline.accounts import delete_account
    from pipeline.points import detach

    user, point, api_client, headers = holder
    second = make_point(session, user, kind="consumption")
    assert client.get(f"/api/v1/meters/{second.pdl}", headers=headers).status_code == 200
    detach(session, celery_app, second.id, actor_id=user.id, ip=None)
    session.commit()
    response = client.get(f"/api/v1/meters/{second.pdl}", headers=headers)
    assert response.status_code == 404 and error_code(response) == "METER_NOT_FOUND"
    assert [m["pdl"] for m in client.get("/api/v1/meters", headers=headers).get_json()["meters"]] == [point.pdl]
    delete_account(session, settings, user.id)
    session.commit()
    assert client.get(f"/api/v1/meters/{point.pdl}", headers=headers).status_code == 401


# -- ownership ----------------------------------------------------------------------------------------


def test_the_callers_meters_only_and_another_accounts_pdl_is_a_404(client, holder, session):
    user, point, api_client, headers = holder
    other = make_point(session, make_user(session), kind="consumption")
    listed = client.get("/api/v1/meters", headers=headers).get_json()["meters"]
    assert [m["pdl"] for m in listed] == [point.pdl]
    assert client.get(f"/api/v1/meters/{point.pdl}", headers=headers).get_json()["kind"] == "consumption"
    for url in (f"/api/v1/meters/{other.pdl}", f"/api/v1/meters/{other.pdl}/consumption/daily?start=2026-03-01&end=2026-03-02",
                f"/api/v1/meters/{other.pdl}/contract", "/api/v1/meters/12345/contract"):
        response = client.get(url, headers=headers)
        assert response.status_code == 404 and error_code(response) == "METER_NOT_FOUND", url
        assert "values" not in response.get_json()


# -- reads --------------------------------------------------------------------------------------------


@freeze_time(NOW)
def test_a_cached_range_is_a_200_with_the_values_and_the_quota_headers(client, holder, store, valkey, session):
    user, point, api_client, headers = holder
    put_daily(store, point, LAST - timedelta(days=9), 10)
    response = client.get(f"/api/v1/meters/{point.pdl}/consumption/daily?start=2026-03-05&end=2026-03-20",
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "complete" and body["unit"] == "Wh" and body["missing_days"] == []
    assert body["values"][0] == {"date": "2026-03-05", "wh": 1000} and len(body["values"]) == 10
    assert body["last_available"] == "2026-03-14"
    assert response.headers["X-Quota-Cache-Minute"] == "1/20" and response.headers["X-Quota-Upstream-Day"] == "0/50"
    assert queued(valkey) == []


@freeze_time(NOW)
def test_a_miss_is_a_202_with_retry_after_and_the_missing_days_and_one_fetch_enqueued(client, holder, store, valkey):
    user, point, api_client, headers = holder
    put_daily(store, point, date(2026, 3, 5), 7)
    url = f"/api/v1/meters/{point.pdl}/consumption/daily?start=2026-03-05&end=2026-03-15"
    response = client.get(url, headers=headers)
    assert response.status_code == 202
    body = response.get_json()
    assert int(response.headers["Retry-After"]) == body["retry_after"] > 0
    assert body["missing_days"] == ["2026-03-12", "2026-03-13", "2026-03-14"]
    assert body["progress"] == {"days": 10, "cached": 7, "missing": 3}
    assert queued(valkey) == [(tasks.FETCH_WINDOW, {"point_id": point.id, "series": "daily_consumption",
                                                    "start": "2026-03-12", "end": "2026-03-15", "backfill": False})]
    assert response.headers["X-Quota-Upstream-Minute"] == "1/2"
    again = client.get(url, headers=headers)  # polling while the fetch is under way: a cache read
    assert again.status_code == 202 and again.headers["X-Quota-Upstream-Minute"] == "1/2"
    assert len(queued(valkey)) == 1
    put_daily(store, point, date(2026, 3, 12), 3)  # the worker wrote the cache
    done = client.get(url, headers=headers)
    assert done.status_code == 200 and len(done.get_json()["values"]) == 10


@freeze_time(NOW)
def test_contract_miss_then_hit_and_the_simulation(client, holder, store, valkey):
    user, point, api_client, headers = holder
    pending = client.get(f"/api/v1/meters/{point.pdl}/contract", headers=headers)
    assert pending.status_code == 202 and "Retry-After" in pending.headers
    assert queued(valkey) == [(tasks.FETCH_CUSTOMER, {"point_id": point.id})]
    store.put(user.id, CONTRACT, {"subscribed_power_kva": 6, "offpeak_hours": "HC (22H00-6H00)"}, point=point.id)
    assert client.get(f"/api/v1/meters/{point.pdl}/contract", headers=headers).get_json()["contract"][
        "subscribed_power_kva"] == 6
    missing = client.get(f"/api/v1/meters/{point.pdl}/simulation", headers=headers)
    assert missing.status_code == 404 and error_code(missing) == "NO_SIMULATION"
    store.put(user.id, SIMULATION, {"format": 1, "kva": 6}, point=point.id)
    assert client.get(f"/api/v1/meters/{point.pdl}/simulation", headers=headers).get_json()["simulation"]["kva"] == 6


def test_a_series_the_meter_does_not_carry_is_a_404(client, holder, session):
    user, point, api_client, headers = holder
    point.load_curve_enabled = False
    session.flush()
    response = client.get(f"/api/v1/meters/{point.pdl}/consumption/load-curve?start=2026-03-01&end=2026-03-02",
                          headers=headers)
    assert response.status_code == 404 and error_code(response) == "SERIES_NOT_AVAILABLE"


# -- ranges and hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize("query, code", [
    ("start=2026-01-01&end=2026-02-02", "RANGE_TOO_LONG"),  # 32 days of load curve
    ("start=2026-01-02&end=2026-01-02", "INVALID_RANGE"),
    ("start=2026-01-02&end=2026-01-01", "INVALID_RANGE"),
    ("start=2026-01-01", "MISSING_PARAMETER"),
    ("start=2026-02-30&end=2026-03-01", "INVALID_PARAMETER"),
    ("start=20260101&end=2026-01-02", "INVALID_PARAMETER"),
    ("start=2026-01-01%0A&end=2026-01-02", "INVALID_PARAMETER"),
    ("start=%00&end=2026-01-02", "INVALID_PARAMETER"),
    ("start=1900-01-01&end=1900-01-02", "INVALID_PARAMETER"),
    ("start=99999999999999999999-01-01&end=2026-01-02", "INVALID_PARAMETER"),
    ("start=" + "9" * 100_000 + "&end=2026-01-02", "INVALID_PARAMETER"),
])
def test_bad_ranges_are_a_400_with_a_stable_code(client, holder, query, code):
    user, point, api_client, headers = holder
    response = client.get(f"/api/v1/meters/{point.pdl}/consumption/load-curve?{query}", headers=headers)
    assert response.status_code == 400 and error_code(response) == code


@freeze_time(NOW)
def test_the_longest_ranges_are_accepted_one_more_day_is_not(client, holder):
    user, point, api_client, headers = holder
    base = f"/api/v1/meters/{point.pdl}/consumption"
    assert client.get(f"{base}/daily?start=2023-01-02&end=2026-01-01", headers=headers).status_code == 202  # 1,095
    too_long = client.get(f"{base}/daily?start=2023-01-01&end=2026-01-01", headers=headers)
    assert too_long.status_code == 400 and too_long.get_json()["error"] == {
        "code": "RANGE_TOO_LONG", "message": "Au plus 1095 jours par requête.", "max_days": 1095}
    assert client.get(f"{base}/load-curve?start=2026-01-01&end=2026-02-01", headers=headers).status_code == 202  # 31


@pytest.mark.parametrize("path", [
    "/api/v1", "/api/v1/", "/api/v1/meters/%00", "/api/v1/meters/" + "1" * 10_000, "/api/v1/meters/%E9%FF",
    "/api/v1/nothing-here",
    "/api/v1/meters/12345678901234/consumption/daily?start=%E9&end=%FF",
])
def test_hostile_paths_are_json_4xx_never_a_page(client, holder, path):
    user, point, api_client, headers = holder
    response = client.get(path, headers=headers)
    assert 400 <= response.status_code < 500 and error_code(response)


def test_other_methods_and_huge_bodies_are_json_errors(client, holder):
    user, point, api_client, headers = holder
    response = client.post("/api/v1/meters", headers=headers)
    assert response.status_code == 405 and error_code(response) == "METHOD_NOT_ALLOWED"
    response = client.get("/api/v1/meters", headers=headers, data="x" * 1_000_000)
    assert response.status_code in (200, 413)
    assert client.get("/api/v1/meters", headers={"Authorization": "Bearer " + "a" * 1_000_000}).status_code == 401
    assert client.get("/api/v1/meters", headers={"Authorization": "Bearer a\x00b"}).status_code == 401


# -- quotas -------------------------------------------------------------------------------------------


def test_beyond_the_quota_a_429_with_retry_after_and_the_quota_route_counts_nothing(client, holder):
    user, point, api_client, headers = holder
    codes = [client.get("/api/v1/meters", headers=headers).status_code for _ in range(21)]
    assert codes == [200] * 20 + [429]
    refused = client.get("/api/v1/meters", headers=headers)
    assert error_code(refused) == "QUOTA_EXCEEDED" and refused.get_json()["error"]["limit"] == "cache:minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    quota = client.get("/api/v1/quota", headers=headers).get_json()
    assert quota["used"]["cache:minute"] == 20 and quota["limits"]["cache:minute"] == 20


# -- public data and the document --------------------------------------------------------------------


def test_public_routes_need_no_token(client, session):
    now = datetime.now(UTC)
    session.add(TempoDay(day=date(2026, 1, 5), colour="RED", updated_at=now, fetched_at=now))
    session.flush()
    body = client.get("/api/v1/tempo?start=2026-01-01&end=2026-01-10").get_json()
    assert body["days"] == [{"date": "2026-01-05", "colour": "RED"}]
    assert client.get("/api/v1/ecowatt?start=2026-01-01&end=2026-01-10").get_json()["days"] == []
    assert client.get("/api/v1/national-consumption?start=2026-01-01&end=2026-01-02").status_code == 200
    assert error_code(client.get("/api/v1/national-consumption?start=2026-01-01&end=2026-03-02")) == "RANGE_TOO_LONG"
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1") and "/meters/{pdl}/consumption/daily" in spec["paths"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "/api/v1/meters/{pdl}/consumption/load-curve" in page.get_data(as_text=True)


@freeze_time(NOW)
def test_a_complete_range_is_answered_again_from_the_answer_kept_until_a_day_is_written(client, holder, store,
                                                                                       valkey):
    user, point, api_client, headers = holder
    put_daily(store, point, date(2026, 3, 1), 14)
    url = f"/api/v1/meters/{point.pdl}/consumption/daily?start=2026-03-01&end=2026-03-15"
    first = client.get(url, headers=headers)
    kept = list(valkey.scan_iter(f"releve:c:{user.id}:p{point.id}:answer:*"))
    assert first.status_code == 200 and len(kept) == 1
    assert valkey.hget(kept[0], "b") and first.get_data() not in valkey.hget(kept[0], "b")  # sealed, not in clear
    again = client.get(url, headers=headers)
    assert again.status_code == 200 and again.get_data() == first.get_data()
    assert again.headers["X-Quota-Cache-Minute"] == "2/20"  # counted like any cache read
    # A day written again (a correction from Enedis): the next answer is made afresh from the readings.
    store.put_days(user.id, point.id, "daily_consumption", {date(2026, 3, 14): {"day": "2026-03-14", "value": 7}})
    fresh = client.get(url, headers=headers).get_json()
    assert fresh["values"][-1] == {"date": "2026-03-14", "wh": 7}
    # Forgetting the point (transfer, deletion) forgets its answers with its readings.
    from models.keys import forget_point

    forget_point(valkey, user.id, point.id)
    assert list(valkey.scan_iter(f"releve:c:{user.id}:p{point.id}:*")) == []


@freeze_time(NOW)
def test_costs_of_the_meters_offer_from_the_cached_readings(client, holder, store, valkey):
    user, point, api_client, headers = holder
    url = f"/api/v1/meters/{point.pdl}/costs"
    # No contract yet: the subscribed power is unknown, the contract is asked for.
    waiting = client.get(url, headers=headers)
    assert waiting.status_code == 202 and queued(valkey) == [(tasks.FETCH_CUSTOMER, {"point_id": point.id})]
    store.put(user.id, CONTRACT, {"subscribed_power_kva": 6, "subscribed_power": "6 kVA", "offpeak_hours": None},
              point=point.id)
    first = date(2025, 3, 14)
    store.put_days(user.id, point.id, "load_curve", {d: [] for d in days(first, (LAST - first).days + 1)})
    store.set_history_start(user.id, point.id, "load_curve", first)
    body = client.get(url, headers=headers).get_json()
    assert body["kva"] == 6 and body["offer"]["option"] == "BASE" and body["offer"]["chosen"] is False
    assert (body["first"], body["last"], body["missing_days"]) == ("2025-04-01", "2026-03-14", [])  # 12 months
    assert body["cost"]["type"] == "offer_cost" and len(body["cost"]["months"]) == 12
    assert error_code(client.get(f"{url}?months=7", headers=headers)) == "INVALID_PARAMETER"
